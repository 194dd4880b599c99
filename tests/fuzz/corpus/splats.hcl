locals {
  objs      = [{ name = "a", port = 1 }, { name = "b", port = 2 }]
  names     = local.objs[*].name
  names2    = local.objs.*.name
  legacy    = local.objs.0.name
  full      = local.objs[*]
  on_scalar = "x"[*]
  on_null   = null[*].foo
  on_map    = { a = 1 }[*].a
  index_bad = local.objs[5]
  index_neg = local.objs[-1]
  index_str = local.objs["zero"]
  index_flt = local.objs[0.5]
  attr_list = local.objs.name
}

application "splat" {
  region = "us-east-2"
}

environment "splat-env" {
  application = application.splat
  platform    = "python-3.12"
  tags        = { first = local.names[0], second = local.names2[1] }
}
