"""Reading portfolio data into the store: the UCI layout, the generic layout, rejects, loading."""
