-- The Sales table, and the trigger that sends each new row to the CDC
-- function, for Aurora MySQL 3 (MySQL 8.0 compatible). Run it once the
-- stack is applied, with the command of the `setup_sql` output:
--
--   mysql --host <cluster_endpoint> --user admin --password --database DB \
--     --init-command "SET @cdc_function_arn='<function ARN>'" < sql/setup.sql
--
-- The password is in the Secrets Manager secret of the
-- `master_password_secret` output. Aurora MySQL 3 has a native
-- `lambda_async` (the post's `mysql.lambda_async` was Aurora MySQL 1 and 2)
-- and needs the AWS_LAMBDA_ACCESS role granted to the user that inserts.

CREATE TABLE IF NOT EXISTS Sales (
  InvoiceID int NOT NULL AUTO_INCREMENT,
  ItemID int NOT NULL,
  Category varchar(255),
  Price double(10,2),
  Quantity int NOT NULL,
  OrderDate timestamp,
  DestinationState varchar(2),
  ShippingType varchar(255),
  Referral varchar(255),
  PRIMARY KEY (InvoiceID)
);

-- Where the procedure finds the function: set from --init-command, so
-- this file needs no editing.
CREATE TABLE IF NOT EXISTS cdc_config (
  id tinyint NOT NULL PRIMARY KEY,
  function_arn varchar(255) NOT NULL
);
REPLACE INTO cdc_config (id, function_arn) VALUES (1, @cdc_function_arn);

DROP TRIGGER IF EXISTS TR_Sales_CDC;
DROP PROCEDURE IF EXISTS CDC_TO_FIREHOSE;

DELIMITER ;;
CREATE PROCEDURE CDC_TO_FIREHOSE (
  IN ItemID int, IN Category varchar(255), IN Price double(10,2),
  IN Quantity int, IN OrderDate timestamp, IN DestinationState varchar(2),
  IN ShippingType varchar(255), IN Referral varchar(255))
BEGIN
  DECLARE arn varchar(255);
  SELECT function_arn INTO arn FROM cdc_config WHERE id = 1;
  -- JSON_OBJECT quotes every value, so no column can break the payload.
  SELECT lambda_async(arn, JSON_OBJECT(
    'ItemID', ItemID, 'Category', Category, 'Price', Price,
    'Quantity', Quantity, 'OrderDate', DATE_FORMAT(OrderDate, '%Y-%m-%d %H:%i:%s'),
    'DestinationState', DestinationState, 'ShippingType', ShippingType,
    'Referral', Referral)) INTO @cdc_output;
END;;

CREATE TRIGGER TR_Sales_CDC AFTER INSERT ON Sales FOR EACH ROW
BEGIN
  CALL CDC_TO_FIREHOSE(NEW.ItemID, NEW.Category, NEW.Price, NEW.Quantity,
    NEW.OrderDate, NEW.DestinationState, NEW.ShippingType, NEW.Referral);
END;;
DELIMITER ;

-- Whoever inserts into Sales needs the role. The cluster parameter group
-- sets activate_all_roles_on_login = 1, so it is active in every new
-- session of this user (the SET ROLE covers this one).
GRANT AWS_LAMBDA_ACCESS TO CURRENT_USER();
SET ROLE AWS_LAMBDA_ACCESS;

-- A row to see it work (or run sql/generate.sql for the post's 10): a
-- line lands under CDC/ within the Firehose buffer interval.
-- INSERT INTO Sales (ItemID, Category, Price, Quantity, OrderDate, DestinationState, ShippingType, Referral)
--   VALUES (1, 'Electronics', 199.99, 1, NOW(), 'WA', '2-Day', 'Friend');
