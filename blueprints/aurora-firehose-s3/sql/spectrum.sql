-- Query the CDC files from Amazon Redshift (the post's last step), once
-- the stack is applied with `--var redshift_spectrum=true` and a Redshift
-- cluster has the stack's Spectrum role attached. Replace the two
-- placeholders: the role's ARN (`archkit state show spectrum_role`) and
-- the bucket (the `cdc_location` output).

CREATE EXTERNAL SCHEMA IF NOT EXISTS spectrum_schema
  FROM DATA CATALOG DATABASE 'spectrum_db'
  IAM_ROLE '<spectrum role ARN>'
  CREATE EXTERNAL DATABASE IF NOT EXISTS;

CREATE EXTERNAL TABLE spectrum_schema.ecommerce_sales (
  ItemID int,
  Category varchar(255),
  Price double precision,
  Quantity int,
  OrderDate timestamp,
  DestinationState varchar(2),
  ShippingType varchar(255),
  Referral varchar(255)
)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
STORED AS TEXTFILE
LOCATION 's3://<bucket>/CDC/';

SELECT Category, SUM(Price * Quantity) AS revenue
  FROM spectrum_schema.ecommerce_sales
  GROUP BY Category
  ORDER BY revenue DESC;
