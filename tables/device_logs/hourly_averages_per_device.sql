-- Readings averaged per device and UTC hour, newest hour first.
SELECT dt, hour, device_id,
       count(*) AS readings,
       round(avg(temperature_c), 2) AS avg_temperature_c,
       round(avg(humidity_pct), 1) AS avg_humidity_pct,
       min(battery_pct) AS min_battery_pct
FROM device_logs
GROUP BY dt, hour, device_id
ORDER BY dt DESC, hour DESC, device_id
