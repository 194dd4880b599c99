# orders-app: a Flask application with the AWS resources it needs declared beside it. The
# orders table is the application's (shared by blue and green, kept when either is destroyed);
# each environment has its own jobs queue. The application reads their names from its
# properties, and its instance role may use exactly those two.

application "orders-app" {
  region = "us-east-2"
  domain = "example.com"

  resource "AWS::DynamoDB::Table" "orders" {
    properties = {
      BillingMode          = "PAY_PER_REQUEST"
      AttributeDefinitions = [{ AttributeName = "id", AttributeType = "S" }]
      KeySchema            = [{ AttributeName = "id", KeyType = "HASH" }]
    }
  }
}

environment "orders-blue" {
  application = application.orders-app
  cname       = "orders"
  platform    = "python-3.12"

  resource "AWS::SQS::Queue" "jobs" {
    properties = { VisibilityTimeout = 60 }
  }

  properties = {
    AWS_DEFAULT_REGION = "us-east-2"
    ORDERS_TABLE       = application.orders-app.resource.orders.ref
    JOBS_QUEUE         = resource.jobs.ref
  }

  load_balancer {
    health_check {
      path = "/health"
    }
  }

  permissions {
    statement {
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      resources = [application.orders-app.resource.orders.arn]
    }
    statement {
      actions   = ["sqs:SendMessage"]
      resources = [resource.jobs.arn]
    }
  }
}

environment "orders-green" {
  application = application.orders-app
  cname       = "orders-staging"
  platform    = "python-3.12"

  resource "AWS::SQS::Queue" "jobs" {
    properties = { VisibilityTimeout = 60 }
  }

  properties = {
    AWS_DEFAULT_REGION = "us-east-2"
    ORDERS_TABLE       = application.orders-app.resource.orders.ref
    JOBS_QUEUE         = resource.jobs.ref
  }

  load_balancer {
    health_check {
      path = "/health"
    }
  }

  permissions {
    statement {
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      resources = [application.orders-app.resource.orders.arn]
    }
    statement {
      actions   = ["sqs:SendMessage"]
      resources = [resource.jobs.arn]
    }
  }
}
