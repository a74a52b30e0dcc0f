# Every aws_iot_* resource iotcore-local serves, for TestTerraform (e2e/terraform_test.go).
# var.phase 1 creates, phase 2 changes something in most resources.
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

variable "endpoint" { type = string }
variable "phase" {
  type    = number
  default = 1
}

locals {
  second = var.phase == 2
}

# The provider block of the README: the iot endpoint overridden, no AWS account needed.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
  endpoints {
    iot = var.endpoint
  }
}

resource "aws_iot_thing_type" "sensor" {
  name = "tf-sensor"
  properties {
    description           = "sensors"
    searchable_attributes = ["floor"]
  }
  tags = { team = "fw" }
}

resource "aws_iot_thing" "dev" {
  name            = "tf-dev"
  thing_type_name = aws_iot_thing_type.sensor.name
  attributes      = { floor = local.second ? "3" : "2" }
}

resource "aws_iot_thing_group" "parent" {
  name = "tf-parent"
}

resource "aws_iot_thing_group" "child" {
  name              = "tf-child"
  parent_group_name = aws_iot_thing_group.parent.name
  properties {
    description = local.second ? "second" : "first"
    attribute_payload {
      attributes = { site = "hq" }
    }
  }
  tags = { team = "fw" }
}

resource "aws_iot_thing_group_membership" "m" {
  thing_name       = aws_iot_thing.dev.name
  thing_group_name = aws_iot_thing_group.child.name
}

resource "aws_iot_policy" "dev" {
  name = "tf-dev-policy"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      { Effect = "Allow", Action = "iot:Connect", Resource = "arn:aws:iot:us-east-1:123456789012:client/$${iot:Connection.Thing.ThingName}" },
      { Effect = "Allow", Action = ["iot:Publish", "iot:Receive"], Resource = "arn:aws:iot:us-east-1:123456789012:topic/tf/*" },
      { Effect = "Allow", Action = "iot:Subscribe", Resource = "arn:aws:iot:us-east-1:123456789012:topicfilter/tf/*" },
      ], local.second ? [
      { Effect = "Allow", Action = "iot:AssumeRoleWithCertificate", Resource = aws_iot_role_alias.dev.arn },
    ] : [])
  })
}

resource "aws_iot_certificate" "dev" {
  active = true
}

resource "aws_iot_policy_attachment" "dev" {
  policy = aws_iot_policy.dev.name
  target = aws_iot_certificate.dev.arn
}

resource "aws_iot_thing_principal_attachment" "dev" {
  principal = aws_iot_certificate.dev.arn
  thing     = aws_iot_thing.dev.name
}

resource "aws_iot_role_alias" "dev" {
  alias               = "tf-role"
  role_arn            = "arn:aws:iam::123456789012:role/tf-device"
  credential_duration = local.second ? 7200 : 3600
  tags                = { team = "fw" }
}

resource "aws_iot_billing_group" "bg" {
  name = "tf-billing"
  properties {
    description = local.second ? "second" : "first"
  }
  tags = { team = "fw" }
}

resource "aws_iot_indexing_configuration" "idx" {
  thing_indexing_configuration {
    thing_indexing_mode              = "REGISTRY_AND_SHADOW"
    thing_connectivity_indexing_mode = "STATUS"
    named_shadow_indexing_mode       = local.second ? "ON" : "OFF"
    custom_field {
      name = "attributes.floor"
      type = "String"
    }
    dynamic "filter" {
      for_each = local.second ? [1] : []
      content {
        named_shadow_names = ["config"]
      }
    }
  }
  thing_group_indexing_configuration {
    thing_group_indexing_mode = "ON"
  }
}

resource "aws_iot_logging_options" "log" {
  default_log_level = local.second ? "INFO" : "WARN"
  role_arn          = "arn:aws:iam::123456789012:role/tf-logs"
}

resource "aws_iot_event_configurations" "ev" {
  # AWS answers every event type, so a configuration that converges names them all.
  event_configurations = {
    "THING"                  = true
    "THING_GROUP"            = local.second
    "THING_TYPE"             = false
    "THING_GROUP_MEMBERSHIP" = false
    "THING_GROUP_HIERARCHY"  = false
    "THING_TYPE_ASSOCIATION" = false
    "JOB"                    = false
    "JOB_EXECUTION"          = false
    "POLICY"                 = false
    "CERTIFICATE"            = false
    "CA_CERTIFICATE"         = false
  }
}

data "aws_iot_endpoint" "creds" {
  endpoint_type = "iot:CredentialProvider"
}

output "certificate_pem" {
  value     = aws_iot_certificate.dev.certificate_pem
  sensitive = true
}

output "private_key" {
  value     = aws_iot_certificate.dev.private_key
  sensitive = true
}

output "credentials_endpoint" {
  value = data.aws_iot_endpoint.creds.endpoint_address
}
