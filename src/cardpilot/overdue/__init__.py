"""Overdue management: policy schema, vectorised aging, roll rates and treatment assignment."""
