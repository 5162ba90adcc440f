-- Readings that need attention: device errors, failed sensors and temperature spikes.
SELECT event_time, device_id, site, status, temperature_c, humidity_pct, battery_pct,
       CASE
         WHEN temperature_c IS NULL THEN 'sensor failure'
         WHEN status = 'error' THEN 'device error'
         ELSE 'temperature spike'
       END AS anomaly
FROM device_logs
WHERE status = 'error' OR temperature_c > 45 OR temperature_c IS NULL
ORDER BY event_time DESC, device_id
