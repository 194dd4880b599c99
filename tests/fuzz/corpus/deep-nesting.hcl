locals {
  deep_parens = ((((((((((((((((((((1 + 2))))))))))))))))))))
  deep_list   = [[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]
  deep_map    = { a = { b = { c = { d = { e = { f = { g = { h = "deep" } } } } } } } }
  deep_cond   = true ? (false ? 1 : (true ? (false ? 2 : (true ? 3 : 4)) : 5)) : 6
  deep_call   = lower(upper(lower(upper(lower(upper(lower(upper(trimspace("  Deep  ")))))))))
  deep_index  = local.deep_map.a.b.c.d.e.f.g.h
  deep_list_i = local.deep_list[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]
  deep_tmpl   = "${"${"${"${"${"nested"}"}"}"}"}"
  math        = -(-(-(-(1 * 2 + 3 / 4 - 5 % 6))))
  logic       = !(!(!(true && false || !false)))
}

application "deep" {
  region = "us-east-2"
  domain = "example.com"
}

environment "deep-env" {
  application = application.deep
  platform    = "python-3.12"
  cname       = lower(local.deep_index)
  properties = {
    DEEP = local.deep_tmpl
    MATH = tostring(local.math)
  }
  capacity {
    min = local.deep_cond - 2
    max = max(local.deep_cond, local.deep_parens)
  }
}
