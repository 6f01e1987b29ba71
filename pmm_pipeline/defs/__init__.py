"""The concrete Dagster definitions per asset group, and the jobs, schedules and sensors."""
