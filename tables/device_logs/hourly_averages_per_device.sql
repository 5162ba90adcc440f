-- Readings averaged per device and UTC hour, newest hour first. The hour comes from event_time
-- itself, so the query reads a Hive-Parquet table (dt/hour partitions) and an Iceberg table
-- (hidden partitioning) alike.
SELECT CAST(event_time AS date) AS dt, hour(event_time) AS hour, device_id,
       count(*) AS readings,
       round(avg(temperature_c), 2) AS avg_temperature_c,
       round(avg(humidity_pct), 1) AS avg_humidity_pct,
       min(battery_pct) AS min_battery_pct
FROM device_logs
GROUP BY CAST(event_time AS date), hour(event_time), device_id
ORDER BY dt DESC, hour DESC, device_id
