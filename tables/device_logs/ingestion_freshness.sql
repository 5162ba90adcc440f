-- Per Kafka partition: rows in the lake, newest offset and record, event-to-ingest delay, and age of the newest record.
SELECT kafka_partition,
       count(*) AS rows_in_lake,
       max(kafka_offset) AS newest_offset,
       max(kafka_timestamp) AS newest_record,
       round(avg(date_diff('millisecond', event_time, kafka_timestamp)) / 1000.0, 1) AS avg_delay_s,
       date_diff('second', max(kafka_timestamp), CAST(current_timestamp AS timestamp)) AS newest_record_age_s
FROM device_logs
GROUP BY kafka_partition
ORDER BY kafka_partition
