-- The most recent reading of every device.
SELECT device_id, site, event_time, temperature_c, humidity_pct, battery_pct, status
FROM (
  SELECT device_id, site, event_time, temperature_c, humidity_pct, battery_pct, status,
         row_number() OVER (PARTITION BY device_id ORDER BY event_time DESC, seq DESC) AS recency
  FROM device_logs
) AS ranked
WHERE recency = 1
ORDER BY device_id
