locals {
  add      = 1 + 2
  sub      = 1 - 2
  mul      = 3 * 4
  div      = 1 / 0
  mod      = 5 % 0
  neg_mod  = -7 % 3
  huge     = 1e308 * 10
  tiny     = 1e-400
  big_int  = 99999999999999999999999999999999999
  neg      = -9223372036854775808
  float    = 0.1 + 0.2
  not_num  = "a" + 1
  not_bool = !"x"
  neg_str  = -"x"
  and_num  = 1 && 2
  cmp_mix  = [1] == [1]
  str_num  = "1" + "2"
  prec     = 1 + 2 * 3 - 4 / 2 % 3
  bool_ops = true || false && !true
}

application "ops" {
  region = "us-east-2"
}

environment "ops-env" {
  application = application.ops
  platform    = "python-3.12"
  capacity {
    min = local.div
    max = local.huge
  }
  instance {
    port = local.big_int
  }
  load_balancer {
    idle_timeout = local.float
    health_check {
      interval = 10
      timeout  = 10
    }
  }
}
