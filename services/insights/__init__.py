"""The insights service: one fact record per ticket, and the reports a support manager runs by."""
