"""`make bench`: the service against a bare Flask baseline, side by side, under wrk."""
