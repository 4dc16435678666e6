"""Pure logic of the insights service: ticket facts, metrics, the category report, drill-downs."""
