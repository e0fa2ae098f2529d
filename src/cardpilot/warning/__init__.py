"""Early warning: which accounts that are current now are likely to go overdue next cycle."""
