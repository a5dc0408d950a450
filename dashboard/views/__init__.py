"""UI components too large for one page file: each renders one tab or panel of a page."""
