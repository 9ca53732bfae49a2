-- Query the CDC files from Amazon Redshift (the post's last step), once
-- the stack is applied with `--var redshift_spectrum=true` and a Redshift
-- cluster has the stack's Spectrum role attached. The table itself is the
-- stack's Glue catalog table `sales_cdc` (the `catalog_table` output), so
-- no CREATE EXTERNAL TABLE is needed. Replace the two placeholders: the
-- role's ARN (`archkit state show spectrum_role`) and the catalog
-- database (the part of `catalog_table` before the dot).

CREATE EXTERNAL SCHEMA IF NOT EXISTS spectrum_schema
  FROM DATA CATALOG DATABASE '<catalog database>'
  IAM_ROLE '<spectrum role ARN>';

SELECT category, SUM(price * quantity) AS revenue
  FROM spectrum_schema.sales_cdc
  GROUP BY category
  ORDER BY revenue DESC;
