"""`mentatctl diff`: compile two commits and compare their output (see task.py for the steps,
compare.py for what is compared, mask.py for what is never shown, report.py for the formats)."""
