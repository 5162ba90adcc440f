-- Per UTC hour of event time: events that reached Kafka more than 5 minutes after they were taken.
SELECT CAST(event_time AS date) AS dt, hour(event_time) AS hour,
       count(*) AS late_events,
       round(CAST(max(date_diff('millisecond', event_time, kafka_timestamp)) AS double) / 60000, 1) AS max_delay_min
FROM device_logs
WHERE kafka_timestamp > event_time + INTERVAL '5' MINUTE
GROUP BY CAST(event_time AS date), hour(event_time)
ORDER BY dt DESC, hour DESC
