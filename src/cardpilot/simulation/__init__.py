"""Cost and benefit of a limit policy before it runs: per-account figures from the review's own
decisions and the policy's assumptions (``economics``), added up by grade, segment and in total
(``figures``), and set beside observed outcomes (``backtest``). Pure: frames in, figures out."""
