-- The post's test data: 10 random Sales rows. Each insert fires the
-- TR_Sales_CDC trigger (sql/setup.sql, run first), so the rows reach the
-- CDC/ files within the stream's buffer interval, and the `query` output
-- then sums them by category. Run it with the `generate_rows` output:
--
--   mysql --host <cluster_endpoint> --user admin --password --database DB < sql/generate.sql
--
-- MySQL 8.0 (Aurora MySQL 3): a recursive CTE makes the 10 rows; ELT picks
-- one of the listed values at random. A Category with a comma shows that
-- the CDC line keeps it in one column.

INSERT INTO Sales (ItemID, Category, Price, Quantity, OrderDate,
                   DestinationState, ShippingType, Referral)
WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
SELECT
  FLOOR(1 + RAND() * 1000),
  ELT(FLOOR(1 + RAND() * 5), 'Electronics', 'Books', 'Garden, Patio', 'Toys', 'Grocery'),
  ROUND(5 + RAND() * 495, 2),
  FLOOR(1 + RAND() * 5),
  NOW() - INTERVAL FLOOR(RAND() * 86400) SECOND,
  ELT(FLOOR(1 + RAND() * 5), 'WA', 'CA', 'NY', 'TX', 'FL'),
  ELT(FLOOR(1 + RAND() * 3), 'Overnight', '2-Day', 'Standard'),
  ELT(FLOOR(1 + RAND() * 3), 'Google', 'Facebook', 'Direct')
FROM n;

SELECT COUNT(*) AS rows_in_sales FROM Sales;
