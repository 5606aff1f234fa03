"""Shop staff: managers and roles, codes issued by hand, monthly budgets."""
