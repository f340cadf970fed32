"""Schedules: integration_schedules rows as Dagster schedules and sensors, and their run times.

``timing`` asks the database for a schedule's next run times (``schedule_next_run`` of
``sql/0006_schedule_times.sql``, which fires exactly as Dagster's scheduler does).
"""

__all__: list[str] = []
