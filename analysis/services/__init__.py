"""Every change of state in analysis: aggregation, quality control, snapshots, job runs, tokens."""
