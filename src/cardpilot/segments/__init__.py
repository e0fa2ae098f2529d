"""Data-driven spending and repayment clusters, beside the policy's segments.

The policy's segments (``cardpilot.policy.segments``) steer decisions; the clusters here do not.
They let a risk team see how the portfolio groups itself by behaviour and compare that with the
policy's rules: each cluster gets a stable id, a descriptive name, its nearest policy segment
and a profile report (``docs/segments.md``).

* ``clustering``: fit (KMeans on transformed behaviour features), save/load, assign;
* ``naming``: ordering and descriptive names from a cluster's profile;
* ``profile``: the profile figures (sizes, features, default rates, scores, policy crosstab);
* ``source``: the portfolio (store or UCI file) as features, labels and the matching policy;
* ``run``: the two jobs the CLI calls (``cardpilot segments cluster | profile``).
"""
