"""Selection rules (智能选品): a small language to pick SKUs per community, and its backtest.

``parse(text) -> Rule``, ``to_text(rule)``, ``evaluate(con, rule_or_text, as_of)``; see the
modules: model (structured form), lexer/parser (text), render (back to text), compile (SQL),
evaluation (run it), backtest.
"""

from engine.rules.errors import RuleError
from engine.rules.evaluation import evaluate
from engine.rules.model import Rule
from engine.rules.parser import parse
from engine.rules.render import to_text

__all__ = ["Rule", "RuleError", "evaluate", "parse", "to_text"]
