"""The customer's side: personal limit advice and large-purchase plans (pure)."""
