"""What every chunked batch job shares: the chunk loop (prefetch, progress, stage timers,
one transaction per chunk, the crash-test kill hook), the currency check and scoring a chunk.

Jobs (``cardpilot.jobs``) never import each other; what two of them need lives here.
"""
