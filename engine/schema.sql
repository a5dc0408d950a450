-- Linli schema, the single definition of every table (see DESIGN.md "Data model").
-- Times are local (Asia/Shanghai) without zone; money in CNY (yuan) as DOUBLE;
-- weights in kg; temperatures in °C. Minutes-of-day columns count from 00:00.
-- The version row lives in schema_version; engine/db.py applies and migrates this file.

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL,
    applied_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Free-form facts about the data set: scale, seed, first/last date ("as_of"), generator.
CREATE TABLE IF NOT EXISTS meta (
    key    VARCHAR PRIMARY KEY,
    value  VARCHAR NOT NULL
);

-- ---------------------------------------------------------------- geography & network
CREATE TABLE IF NOT EXISTS regions (
    region_id  INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,          -- district, e.g. 岳麓区
    city       VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS warehouses (
    warehouse_id  INTEGER PRIMARY KEY,
    name          VARCHAR NOT NULL,       -- 前置仓
    region_id     INTEGER NOT NULL,
    lat           DOUBLE NOT NULL,
    lon           DOUBLE NOT NULL
);

CREATE TABLE IF NOT EXISTS communities (
    community_id    INTEGER PRIMARY KEY,
    name            VARCHAR NOT NULL,     -- 小区 name, e.g. 云顶华府
    region_id       INTEGER NOT NULL,
    warehouse_id    INTEGER NOT NULL,     -- serving forward warehouse
    type            VARCHAR NOT NULL,     -- high_end | young_family | elderly | mixed | new_town
    households      INTEGER NOT NULL,
    built_year      INTEGER,
    avg_price_sqm   DOUBLE,               -- housing price, CNY per m²
    lat             DOUBLE NOT NULL,
    lon             DOUBLE NOT NULL,
    opened          DATE NOT NULL         -- first day served by the platform
);

CREATE TABLE IF NOT EXISTS leaders (
    leader_id        INTEGER PRIMARY KEY,
    community_id     INTEGER NOT NULL,
    name             VARCHAR NOT NULL,     -- 团长
    phone            VARCHAR,
    joined           DATE NOT NULL,
    commission_rate  DOUBLE NOT NULL       -- share of net GMV paid to the leader
);

CREATE TABLE IF NOT EXISTS pickup_points (
    pickup_id      INTEGER PRIMARY KEY,
    community_id   INTEGER NOT NULL,
    leader_id      INTEGER NOT NULL,
    name           VARCHAR NOT NULL,
    lat            DOUBLE,
    lon            DOUBLE,
    window_start   INTEGER NOT NULL,      -- delivery window, minutes of day
    window_end     INTEGER NOT NULL,
    service_min    INTEGER NOT NULL       -- unloading time at the stop
);

CREATE TABLE IF NOT EXISTS vehicles (
    vehicle_id     INTEGER PRIMARY KEY,
    warehouse_id   INTEGER NOT NULL,
    plate          VARCHAR NOT NULL,
    capacity_kg    DOUBLE NOT NULL,
    capacity_m3    DOUBLE NOT NULL,
    refrigerated   BOOLEAN NOT NULL,
    shift_start    INTEGER NOT NULL,      -- minutes of day
    shift_end      INTEGER NOT NULL,
    fixed_cost     DOUBLE NOT NULL,       -- CNY per day used
    cost_per_km    DOUBLE NOT NULL
);

CREATE TABLE IF NOT EXISTS suppliers (
    supplier_id     INTEGER PRIMARY KEY,
    name            VARCHAR NOT NULL,
    city            VARCHAR,
    lead_time_days  INTEGER NOT NULL
);

-- ---------------------------------------------------------------- catalogue
CREATE TABLE IF NOT EXISTS skus (
    sku_id           INTEGER PRIMARY KEY,
    name             VARCHAR NOT NULL,
    category         VARCHAR NOT NULL,    -- 时蔬, 水果, 肉禽蛋, ...
    storage          VARCHAR NOT NULL,    -- ambient | chilled | frozen
    shelf_life_days  INTEGER NOT NULL,
    list_price       DOUBLE NOT NULL,     -- CNY per unit
    unit_cost        DOUBLE NOT NULL,
    unit             VARCHAR NOT NULL,    -- 盒, 斤, 袋, ...
    weight_kg        DOUBLE NOT NULL,
    volume_l         DOUBLE NOT NULL,
    pack_size        INTEGER NOT NULL,    -- purchase multiple
    supplier_id      INTEGER NOT NULL,
    tags             VARCHAR[] NOT NULL,  -- organic, imported, low_sugar, kids, soft_food, ...
    launched         DATE NOT NULL
);

-- ---------------------------------------------------------------- people
CREATE TABLE IF NOT EXISTS users (
    user_id        INTEGER PRIMARY KEY,
    community_id   INTEGER NOT NULL,
    building       VARCHAR NOT NULL,      -- e.g. 3栋
    signup_date    DATE NOT NULL,
    channel        VARCHAR NOT NULL,      -- leader_invite | wechat_group | poster | app
    gender         VARCHAR,               -- stated: F | M | NULL
    age_band       VARCHAR,               -- stated: 18-29 | 30-44 | 45-59 | 60+
    has_children   BOOLEAN,               -- stated, may be NULL
    has_pet        BOOLEAN                -- stated, may be NULL
);

-- ---------------------------------------------------------------- selling
-- One group-buy (团购) of one SKU in one community on one sale day; delivered the next day.
CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id    BIGINT PRIMARY KEY,
    community_id   INTEGER NOT NULL,
    sku_id         INTEGER NOT NULL,
    sale_date      DATE NOT NULL,
    price          DOUBLE NOT NULL,       -- group price per unit
    list_price     DOUBLE NOT NULL,
    threshold      INTEGER NOT NULL,      -- units needed for the group to form (成团)
    stock_limit    INTEGER,               -- units on offer; NULL = unlimited
    units          INTEGER NOT NULL,      -- units ordered (achieved)
    sold_out       BOOLEAN NOT NULL,      -- hit stock_limit: demand censored
    success        BOOLEAN NOT NULL       -- units >= threshold
);

CREATE TABLE IF NOT EXISTS orders (
    order_id        BIGINT PRIMARY KEY,
    user_id         INTEGER NOT NULL,
    community_id    INTEGER NOT NULL,
    pickup_id       INTEGER NOT NULL,
    order_date      DATE NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    promised_by     TIMESTAMP NOT NULL,   -- at the pickup point by this time
    delivered_at    TIMESTAMP,            -- arrival at the pickup point
    picked_up_at    TIMESTAMP,            -- customer collected
    status          VARCHAR NOT NULL,     -- paid | cancelled | refunded
    ref_user_id     INTEGER,              -- order came through this user's shared link
    coupon          DOUBLE NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS order_items (
    order_id      BIGINT NOT NULL,
    sku_id        INTEGER NOT NULL,
    campaign_id   BIGINT,
    qty           INTEGER NOT NULL,
    unit_price    DOUBLE NOT NULL,        -- price paid per unit
    list_price    DOUBLE NOT NULL,
    unit_cost     DOUBLE NOT NULL,
    refund_qty    INTEGER NOT NULL DEFAULT 0,
    refund_reason VARCHAR                 -- group_failed | quality | missing | NULL
);

-- Daily browsing per community and SKU (detail pages viewed, add-to-cart clicks).
CREATE TABLE IF NOT EXISTS browse_events (
    event_date     DATE NOT NULL,
    community_id   INTEGER NOT NULL,
    sku_id         INTEGER NOT NULL,
    views          INTEGER NOT NULL,
    carts          INTEGER NOT NULL
);

-- Daily stock per warehouse and SKU, in units. on_hand is the closing stock.
CREATE TABLE IF NOT EXISTS inventory (
    stock_date     DATE NOT NULL,
    warehouse_id   INTEGER NOT NULL,
    sku_id         INTEGER NOT NULL,
    received       INTEGER NOT NULL,
    sold           INTEGER NOT NULL,
    wasted         INTEGER NOT NULL,
    on_hand        INTEGER NOT NULL,
    in_transit     INTEGER NOT NULL DEFAULT 0
);

-- ---------------------------------------------------------------- signals
CREATE TABLE IF NOT EXISTS chat_activity (
    activity_date     DATE NOT NULL,
    user_id           INTEGER NOT NULL,
    community_id      INTEGER NOT NULL,
    messages          INTEGER NOT NULL,
    replies_received  INTEGER NOT NULL,
    shares            INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS topics (
    topic_date     DATE NOT NULL,
    community_id   INTEGER NOT NULL,
    keyword        VARCHAR NOT NULL,      -- e.g. 低糖水果
    mentions       INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS weather (
    weather_date   DATE NOT NULL,
    city           VARCHAR NOT NULL,
    tmax_c         DOUBLE NOT NULL,
    tmin_c         DOUBLE NOT NULL,
    precip_mm      DOUBLE NOT NULL,
    condition      VARCHAR NOT NULL       -- 晴 | 多云 | 阴 | 小雨 | 大雨 | 雪
);

-- Chinese public holidays and adjusted working days (调休).
CREATE TABLE IF NOT EXISTS calendar (
    cal_date       DATE PRIMARY KEY,
    is_holiday     BOOLEAN NOT NULL,      -- statutory day off
    is_workday     BOOLEAN NOT NULL,      -- a working day (incl. adjusted weekend workdays)
    holiday        VARCHAR                -- 春节 | 中秋节 | 国庆节 | ... when a holiday
);

CREATE TABLE IF NOT EXISTS feedback (
    feedback_id    BIGINT PRIMARY KEY,
    order_id       BIGINT NOT NULL,
    user_id        INTEGER NOT NULL,
    community_id   INTEGER NOT NULL,
    feedback_date  DATE NOT NULL,
    rating         INTEGER NOT NULL,      -- 1..5
    nps            INTEGER NOT NULL,      -- 0..10 likelihood to recommend
    complaint      VARCHAR                -- quality | late | missing | price | NULL
);

-- ---------------------------------------------------------------- cold chain
CREATE TABLE IF NOT EXISTS devices (
    device_id      VARCHAR PRIMARY KEY,   -- e.g. WH01-ROOM-C, TRK-0003, CAB-0042
    kind           VARCHAR NOT NULL,      -- truck | room | cabinet
    storage        VARCHAR NOT NULL,      -- chilled | frozen
    warehouse_id   INTEGER NOT NULL,
    vehicle_id     INTEGER,
    pickup_id      INTEGER,
    lat            DOUBLE,
    lon            DOUBLE,
    interval_s     INTEGER NOT NULL       -- expected reporting interval
);

CREATE TABLE IF NOT EXISTS telemetry (
    device_id      VARCHAR NOT NULL,
    ts             TIMESTAMP NOT NULL,
    temp_c         DOUBLE,
    humidity       DOUBLE,
    door_open      BOOLEAN,
    battery        DOUBLE,                -- percent
    lat            DOUBLE,
    lon            DOUBLE,
    msg_id         VARCHAR,               -- publisher's id, dedups QoS 1 redeliveries
    received_at    TIMESTAMP
);

CREATE TABLE IF NOT EXISTS telemetry_quarantine (
    received_at    TIMESTAMP NOT NULL,
    topic          VARCHAR,
    payload        VARCHAR,
    reason         VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS alerts (
    alert_id         BIGINT PRIMARY KEY,
    device_id        VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,    -- high_temp | low_temp | door_open | offline | low_battery
    severity         VARCHAR NOT NULL,    -- warning | critical
    started_at       TIMESTAMP NOT NULL,
    cleared_at       TIMESTAMP,
    peak_c           DOUBLE,
    degree_minutes   DOUBLE,
    acknowledged_by  VARCHAR,
    acknowledged_at  TIMESTAMP
);

-- >>> feat/coldchain: alarm engine additions (engine/telemetry.py, engine/telemetry_db.py)
-- raised_at: when the hold time elapsed and the alarm was raised (started_at is the first
-- out-of-range reading); updated_at: last write by the alarm engine.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS raised_at TIMESTAMP;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP;
-- <<< feat/coldchain

-- ---------------------------------------------------------------- app state
CREATE TABLE IF NOT EXISTS saved_rules (
    rule_id      INTEGER PRIMARY KEY,
    name         VARCHAR NOT NULL UNIQUE,
    text         VARCHAR NOT NULL,
    author       VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS route_plans (
    plan_id         VARCHAR PRIMARY KEY,
    plan_date       DATE NOT NULL,
    warehouse_id    INTEGER NOT NULL,
    solver          VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    total_km        DOUBLE NOT NULL,
    params          VARCHAR               -- JSON
);

CREATE TABLE IF NOT EXISTS route_stops (
    plan_id       VARCHAR NOT NULL,
    vehicle_id    INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    pickup_id     INTEGER,                -- NULL for the depot
    arrival_min   INTEGER,
    load_kg       DOUBLE
);

CREATE TABLE IF NOT EXISTS import_log (
    import_id     VARCHAR PRIMARY KEY,
    imported_at   TIMESTAMP NOT NULL,
    source        VARCHAR NOT NULL,
    target_table  VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,
    rows_in       BIGINT NOT NULL,
    rows_loaded   BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS import_quarantine (
    import_id     VARCHAR NOT NULL,
    target_table  VARCHAR NOT NULL,
    row_number    BIGINT,
    reason        VARCHAR NOT NULL,
    row_json      VARCHAR
);

CREATE TABLE IF NOT EXISTS app_users (
    username        VARCHAR PRIMARY KEY,
    display_name    VARCHAR,
    role            VARCHAR NOT NULL,     -- executive | regional_manager | analyst | dispatcher | admin
    regions         INTEGER[],            -- NULL = all
    warehouses      INTEGER[],            -- NULL = all
    password_hash   VARCHAR NOT NULL,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_log (
    logged_at TIMESTAMP NOT NULL,
    username  VARCHAR,
    action    VARCHAR NOT NULL,           -- login | login_failed | import | plan_approved | rule_saved ...
    detail    VARCHAR
);

-- ---------------------------------------------------------------- tomorrow's group-buy plans
-- engine/planning.py: a plan with its inputs, its per-community lists and its scoring.
CREATE TABLE IF NOT EXISTS group_plans (
    plan_id       VARCHAR PRIMARY KEY,
    sale_date     DATE NOT NULL,          -- the day the groups run
    as_of         DATE NOT NULL,          -- last day of data the plan used
    created_at    TIMESTAMP NOT NULL,
    rule_text     VARCHAR NOT NULL,
    settings      VARCHAR NOT NULL,       -- JSON
    status        VARCHAR NOT NULL,       -- draft | approved
    approved_by   VARCHAR,
    approved_at   TIMESTAMP
);

CREATE TABLE IF NOT EXISTS group_plan_items (
    plan_id         VARCHAR NOT NULL,
    community_id    INTEGER NOT NULL,
    rank            INTEGER NOT NULL,
    sku_id          INTEGER NOT NULL,
    source          VARCHAR NOT NULL,     -- rule | history | basket
    price           DOUBLE NOT NULL,
    threshold       INTEGER NOT NULL,
    expected_units  DOUBLE NOT NULL,
    p_success       DOUBLE NOT NULL,
    expected_gmv    DOUBLE NOT NULL,
    expected_margin DOUBLE NOT NULL
);

-- issue 19: actions outbox (engine/actions/: outbox, channels, publication, alarms, jobs)
-- One row per outgoing message; `msg_key` is the caller's idempotency key, so enqueueing the
-- same key twice queues one message. status: queued | sending | sent | dead.
CREATE TABLE IF NOT EXISTS outbox (
    msg_key          VARCHAR PRIMARY KEY,
    kind             VARCHAR NOT NULL,    -- plan_listing | supplier_order | digest | alarm | ...
    channel          VARCHAR NOT NULL,    -- a channel name (role[@region]) or an apprise URL
    recipient        VARCHAR NOT NULL,
    subject          VARCHAR NOT NULL,
    body             VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMP NOT NULL,
    next_attempt_at  TIMESTAMP NOT NULL,
    claimed_until    TIMESTAMP,           -- lease of the sender that is delivering it
    sent_at          TIMESTAMP,
    last_error       VARCHAR,
    attachments      STRUCT(filename VARCHAR, content BLOB)[]
);

-- Where messages of a role go, per region (region_id NULL = every region). `url` is an
-- apprise URL (wecombot://, dingtalk://, feishu://, mailto://, json://).
CREATE TABLE IF NOT EXISTS action_channels (
    role        VARCHAR NOT NULL,         -- leader | supplier | manager | duty | escalation | ...
    region_id   INTEGER,
    url         VARCHAR NOT NULL,
    updated_by  VARCHAR,
    updated_at  TIMESTAMP NOT NULL
);

-- What a publication of a plan sent, per message: a re-publication compares against it.
CREATE TABLE IF NOT EXISTS plan_publications (
    plan_id       VARCHAR NOT NULL,
    revision      INTEGER NOT NULL,
    target        VARCHAR NOT NULL,       -- leader:<id> | supplier:<id>
    content_hash  VARCHAR NOT NULL,
    msg_key       VARCHAR NOT NULL,
    published_at  TIMESTAMP NOT NULL,
    content       VARCHAR NOT NULL        -- JSON of what was sent, for the next correction
);

-- A target's own address (a supplier's e-mail), used as the recipient of its messages.
CREATE TABLE IF NOT EXISTS action_contacts (
    target   VARCHAR PRIMARY KEY,         -- leader:<id> | supplier:<id>
    address  VARCHAR NOT NULL
);

-- Purchase orders of a plan, kept at publication so a re-publication can rebuild them.
CREATE TABLE IF NOT EXISTS group_plan_purchase (
    plan_id       VARCHAR NOT NULL,
    supplier_id   INTEGER NOT NULL,
    warehouse_id  INTEGER NOT NULL,
    sku_id        INTEGER NOT NULL,
    order_qty     DOUBLE NOT NULL
);

-- The listing a published plan created (NULL for listings loaded from the platform).
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS plan_id VARCHAR;

-- Each run of a scheduled job: the admin page shows the last one.
CREATE TABLE IF NOT EXISTS job_runs (
    job          VARCHAR NOT NULL,        -- digest | sql_sync | model_refit | alarms | ...
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP,
    ok           BOOLEAN,
    result       VARCHAR
);

-- issue 18: decisions
-- engine/pricing/evidence.py: optional reference or competitor prices; the price optimiser
-- never searches above the highest of them for a SKU in the 30 days before the plan.
CREATE TABLE IF NOT EXISTS reference_prices (
    price_date  DATE NOT NULL,
    sku_id      INTEGER NOT NULL,
    competitor       VARCHAR NOT NULL,     -- competitor or reference name
    reference_price  DOUBLE NOT NULL       -- CNY per unit
);
-- engine/planning.py: each planned item's margin after group costs and whether its price lies
-- outside the range past listings support.
ALTER TABLE group_plan_items ADD COLUMN IF NOT EXISTS expected_net_margin DOUBLE;
ALTER TABLE group_plan_items ADD COLUMN IF NOT EXISTS extrapolated BOOLEAN;

-- issue 19: leaders and customers (engine/leaders/, engine/coupons/)
-- A customer's phone (shown masked on the leader workbench unless the role may see it), and
-- the coupon code an order redeemed (NULL = none); `coupon` stays the discount in yuan.
ALTER TABLE users ADD COLUMN IF NOT EXISTS phone VARCHAR;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS coupon_code VARCHAR;

-- A leader's commission for a period once settled (paid out); absent = not settled yet.
CREATE TABLE IF NOT EXISTS leader_settlements (
    leader_id     INTEGER NOT NULL,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    amount        DOUBLE NOT NULL,        -- commission paid, CNY
    settled_at    TIMESTAMP NOT NULL,
    settled_by    VARCHAR NOT NULL
);

-- A coupon campaign: the eligible users were split at random into coupon and hold-out arms.
CREATE TABLE IF NOT EXISTS coupon_trials (
    trial_id       VARCHAR PRIMARY KEY,
    issued_on      DATE NOT NULL,         -- first day the coupons are valid
    expires_on     DATE NOT NULL,         -- last day (the measured window ends here)
    holdout_share  DOUBLE NOT NULL,
    seed           INTEGER NOT NULL,
    source         VARCHAR NOT NULL,      -- e.g. retention_offers
    created_at     TIMESTAMP NOT NULL,
    created_by     VARCHAR NOT NULL
);

-- Every eligible user of a trial: arm 'coupon' (code, value, sent) or 'holdout' (nothing).
CREATE TABLE IF NOT EXISTS coupons (
    trial_id      VARCHAR NOT NULL,
    user_id       INTEGER NOT NULL,
    arm           VARCHAR NOT NULL,       -- coupon | holdout
    code          VARCHAR,                -- NULL in the hold-out
    value         DOUBLE NOT NULL,        -- yuan off; 0 in the hold-out
    sent          BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (trial_id, user_id)
);

-- issue 19: outcomes feed back (engine/calibration.py, engine/outcomes.py)
-- The demand model's own success probability of a plan item, before calibration
-- (p_success is what the plan used, after it); NULL for plans stored before calibration.
ALTER TABLE group_plan_items ADD COLUMN IF NOT EXISTS p_model DOUBLE;

-- Each refit of the success-probability calibration p' = sigmoid(a + b · logit(p)).
CREATE TABLE IF NOT EXISTS success_calibration (
    fitted_at     TIMESTAMP NOT NULL,
    n             INTEGER NOT NULL,        -- realised plan items it was fitted on
    a             DOUBLE NOT NULL,
    b             DOUBLE NOT NULL,
    prior         DOUBLE NOT NULL,         -- pseudo-outcomes pulling (a, b) towards (0, 1)
    brier_before  DOUBLE NOT NULL,
    brier_after   DOUBLE NOT NULL
);

-- issue 17: own data (every input table loadable from files)
-- Stock by lot: what is on hand per warehouse and SKU on a stock date, with each lot's
-- receipt and expiry date, so near-expiry stock is found from the data.
CREATE TABLE IF NOT EXISTS inventory_lots (
    stock_date     DATE NOT NULL,
    warehouse_id   INTEGER NOT NULL,
    sku_id         INTEGER NOT NULL,
    lot_id         VARCHAR NOT NULL,
    received_date  DATE NOT NULL,
    expiry_date    DATE NOT NULL,
    qty            INTEGER NOT NULL
);
-- observed | forecast: a forecast may be dated after today, an observation may not.
ALTER TABLE weather ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'observed';

-- issue 18: forecasting (the one demand model, fitted once per data version, reused everywhere)
-- engine/forecasting/store.py: each fit of the page's model, keyed by data version, row scope
-- and seed; written by the background fit, read by the forecast page, purchasing and the plan.
CREATE TABLE IF NOT EXISTS forecast_fits (
    fit_id        VARCHAR PRIMARY KEY,
    data_version  VARCHAR NOT NULL,       -- engine.dataset.version when fitted
    scope_key     VARCHAR NOT NULL,       -- row scope of the series (see store.scope_key)
    seed          INTEGER NOT NULL,
    as_of         DATE NOT NULL,          -- last day of history
    objective     VARCHAR NOT NULL,       -- squared | absolute
    created_at    TIMESTAMP NOT NULL,
    seconds       DOUBLE NOT NULL         -- wall time of the fit
);
-- What the fit's history derived rather than read (e.g. listings_from_orders), comma-separated.
ALTER TABLE forecast_fits ADD COLUMN IF NOT EXISTS derived VARCHAR;
-- The fit's debias ratio (Settings.debias): its hold-out forecasts times it are the model's.
ALTER TABLE forecast_fits ADD COLUMN IF NOT EXISTS debias DOUBLE;

CREATE TABLE IF NOT EXISTS forecast_values (
    fit_id      VARCHAR NOT NULL,
    unique_id   VARCHAR NOT NULL,         -- sku_id@warehouse_id
    ds          DATE NOT NULL,
    yhat        DOUBLE NOT NULL,
    yhat_lo_50  DOUBLE, yhat_hi_50 DOUBLE,
    yhat_lo_80  DOUBLE, yhat_hi_80 DOUBLE,
    yhat_lo_95  DOUBLE, yhat_hi_95 DOUBLE
);

CREATE TABLE IF NOT EXISTS forecast_history (  -- the last days of history the page charts
    fit_id      VARCHAR NOT NULL,
    unique_id   VARCHAR NOT NULL,
    ds          DATE NOT NULL,
    y           DOUBLE NOT NULL,
    censored    BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS forecast_holdout (
    fit_id      VARCHAR NOT NULL,
    model       VARCHAR NOT NULL,         -- xgboost | seasonal_naive | ets | profile
    unique_id   VARCHAR NOT NULL,
    ds          DATE NOT NULL,
    yhat        DOUBLE NOT NULL,
    y           DOUBLE NOT NULL,
    censored    BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS forecast_keys (
    fit_id          VARCHAR NOT NULL,
    unique_id       VARCHAR NOT NULL,
    sku_id          INTEGER NOT NULL,
    warehouse_id    INTEGER NOT NULL,
    name            VARCHAR,
    category        VARCHAR,
    storage         VARCHAR,
    shelf_life_days INTEGER,
    pack_size       INTEGER,
    supplier_id     INTEGER,
    unit_cost       DOUBLE,
    region_id       INTEGER
);

CREATE TABLE IF NOT EXISTS forecast_importance (
    fit_id    VARCHAR NOT NULL,
    feature   VARCHAR NOT NULL,
    gain      DOUBLE NOT NULL,
    share     DOUBLE NOT NULL
);

-- issue 17: degrade (optional service-area boundaries, drawn under every map)
-- One outline per service area, loaded from a GeoJSON FeatureCollection (connectors/geojson.py).
CREATE TABLE IF NOT EXISTS service_areas (
    area_id       VARCHAR PRIMARY KEY,
    name          VARCHAR,
    region_id     INTEGER,                -- optional: the region the area belongs to
    geometry_json VARCHAR NOT NULL,       -- one GeoJSON Polygon or MultiPolygon
    loaded_at     TIMESTAMP NOT NULL
);
