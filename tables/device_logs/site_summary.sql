-- Per site: devices, readings, average temperature and share of readings that were not ok.
SELECT site,
       count(DISTINCT device_id) AS devices,
       count(*) AS readings,
       round(avg(temperature_c), 2) AS avg_temperature_c,
       round(100 * CAST(sum(CASE WHEN status <> 'ok' THEN 1 ELSE 0 END) AS double) / count(*), 2) AS not_ok_pct
FROM device_logs
GROUP BY site
ORDER BY site
