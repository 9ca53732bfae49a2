//! AWS on-demand list prices archkit estimates running costs from, one
//! table per region (only us-east-1 so far). Each price and its source is
//! listed in `docs/prices.md`; a price not sourced there is absent here,
//! so the resources that need it show as unknown, never as free.

use crate::price::PriceTable;

pub static US_EAST_1: PriceTable = PriceTable {
    region: "us-east-1",
    date: "2026-10",
    source: "AWS pricing pages and Infracost's AWS price dataset (docs/prices.md)",
    prices: &[
        ("nat_gateway_hour", 0.045),
        ("nat_gateway_gb", 0.045),
        ("public_ipv4_hour", 0.005),
        ("alb_hour", 0.0225),
        ("alb_lcu_hour", 0.008),
        ("nlb_hour", 0.0225),
        ("nlb_lcu_hour", 0.006),
        ("interface_endpoint_az_hour", 0.01),
        ("interface_endpoint_gb", 0.01),
        ("fargate_vcpu_hour", 0.04048),
        ("fargate_gb_hour", 0.004445),
        // Amazon MQ for ActiveMQ, per broker instance-hour. mq.t3.micro has
        // no sourced price (sources conflict), so it is left unknown.
        ("mq.m5.large_hour", 0.288),
        ("mq_efs_gb_month", 0.30),
        ("lambda_million_requests", 0.20),
        ("lambda_gb_second", 0.0000166667),
        ("dynamodb_million_writes", 0.625),
        ("dynamodb_million_reads", 0.125),
        ("dynamodb_gb_month", 0.25),
        ("secret_month", 0.40),
        ("secret_10k_calls", 0.05),
        ("logs_ingested_gb", 0.50),
        ("logs_stored_gb_month", 0.03),
        ("s3_gb_month", 0.023),
        ("s3_1k_writes", 0.005),
        ("firehose_ingested_gb", 0.029),
        // Aurora MySQL instance-hours by class, and Aurora (Standard)
        // storage and I/O.
        ("aurora-mysql_db.t3.medium_hour", 0.082),
        ("aurora-mysql_db.t4g.medium_hour", 0.073),
        ("aurora-mysql_db.r6g.large_hour", 0.26),
        ("aurora_storage_gb_month", 0.10),
        ("aurora_million_io", 0.20),
        // EC2 on-demand instance-hours by operating system and type
        // (Windows: license included; one secondary source, us-east-2).
        ("ec2_linux_t3.micro_hour", 0.0104),
        ("ec2_linux_t3.small_hour", 0.0208),
        ("ec2_linux_t3.large_hour", 0.0832),
        ("ec2_linux_m5.large_hour", 0.096),
        ("ec2_windows_t3.large_hour", 0.1108),
        // Infracost's dataset (@16e40f6: $43.80 a month / 730 h), weak.
        ("ec2_windows_t3.medium_hour", 0.06),
        // RDS for SQL Server, Single-AZ, license included. Only db.t3.large
        // is sourced: the smaller classes stay unknown.
        ("sqlserver-ex_db.t3.large_hour", 0.162),
        ("sqlserver-web_db.t3.large_hour", 0.232),
        // AWS Managed Microsoft AD, two domain controllers.
        ("ds_microsoft_ad_standard_hour", 0.12),
        ("ds_microsoft_ad_enterprise_hour", 0.40),
        ("codebuild_build_general1_small_minute", 0.005),
        ("codebuild_build_general1_medium_minute", 0.01),
        ("glue_dpu_hour", 0.44),
        // RDS storage of an instance of its own, Single-AZ; EBS volumes
        // (an instance's root volume).
        ("rds_gp2_gb_month", 0.115),
        ("rds_gp3_gb_month", 0.115),
        ("ebs_gp3_gb_month", 0.08),
    ],
};

/// The price table of `region`, if archkit ships one.
pub fn table(region: &str) -> Option<&'static PriceTable> {
    [&US_EAST_1].into_iter().find(|t| t.region == region)
}
