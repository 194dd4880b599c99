"""A mitmproxy addon beside ../shared/timing/timing.py: CloudFormation's own time, which the
shared harness does not model (moto executes a change set at once, and the resources a stack
creates never pass the proxy, so their waits are not there either).

The model: a stack whose change set is executed stays CREATE_IN_PROGRESS (UPDATE_IN_PROGRESS)
in DescribeStacks for the longest chain of its template's resources (references: Ref,
Fn::GetAtt, Fn::Sub, DependsOn), each resource taking CloudFormation's own overhead
(cfn_resource_s, 5 s real) plus what AWS takes for its type: a load balancer provisioning
(timing_alb_s), an instance profile propagating (cfn_profile_s, 120 s real: CloudFormation
waits for it), a DNS record syncing (timing_dns_s); an update takes the chain of the resources
its change set changes. Scaled by timing_scale, like the rest. Control: GET /__cfn (the stacks
and when each ends). Loopback only, as the harness.
"""

import json
import re
import time
import urllib.parse
from fractions import Fraction

import boto3
from mitmproxy import ctx, http


def _scale():
    return float(Fraction(str(ctx.options.timing_scale)))


def _references(value, found):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                if isinstance(text, str):
                    found.update(n.split(".")[0] for n in re.findall(r"\$\{([^!][^}]*)\}", text))
            _references(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _references(inner, found)


def duration(template, only=None):
    """Real seconds CloudFormation takes for `template` (or the resources `only` names)."""
    resources = template.get("Resources", {})
    own = {
        "AWS::ElasticLoadBalancingV2::LoadBalancer": float(ctx.options.timing_alb_s),
        "AWS::IAM::InstanceProfile": float(ctx.options.cfn_profile_s),
        "AWS::Route53::RecordSet": float(ctx.options.timing_dns_s),
    }
    per_resource = float(ctx.options.cfn_resource_s)
    memo = {}

    def finish(name, seen=()):
        if name in memo:
            return memo[name]
        body = resources.get(name, {})
        refs = set()
        _references(body.get("Properties", {}), refs)
        depends = body.get("DependsOn", [])
        refs.update([depends] if isinstance(depends, str) else depends)
        start = max([finish(r, seen + (name,)) for r in refs if r in resources and r not in seen] or [0])
        takes = 0
        if only is None or name in only:
            takes = per_resource + own.get(body.get("Type"), 0)
        memo[name] = start + takes
        return memo[name]

    return per_resource + max([finish(n) for n in resources] or [0])


class CloudFormationTiming:
    def __init__(self):
        self.ends = {}  # stack name -> (time it ends, "CREATE" | "UPDATE")

    def load(self, loader):
        loader.add_option("cfn_resource_s", float, 5.0, "CloudFormation's overhead per resource (real s)")
        loader.add_option("cfn_profile_s", float, 120.0, "an instance profile's wait in a stack (real s)")

    def _form(self, flow):
        return dict(urllib.parse.parse_qsl(flow.request.get_text() or ""))

    def request(self, flow: http.HTTPFlow):
        if flow.request.path.startswith("/__cfn"):
            now = time.time()
            flow.response = http.Response.make(
                200,
                json.dumps({k: {"remaining_s": round(v[0] - now, 2), "kind": v[1]} for k, v in self.ends.items()}),
                {"content-type": "application/json"},
            )

    def response(self, flow: http.HTTPFlow):
        form = self._form(flow)
        action = form.get("Action")
        if action == "ExecuteChangeSet" and flow.response.status_code == 200:
            self._executed(flow, form)
        elif action == "DescribeStacks" and flow.response.status_code == 200:
            self._in_progress(flow)

    def _client(self, flow):
        auth = flow.request.headers.get("authorization", "")
        region = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", auth)
        return boto3.client(
            "cloudformation",
            endpoint_url=f"http://{flow.request.host}:{flow.request.port}",
            region_name=region.group(1) if region else "us-east-1",
            aws_access_key_id="timing",
            aws_secret_access_key="timing",
        )

    def _executed(self, flow, form):
        stack = form.get("StackName", "")
        client = self._client(flow)
        try:
            body = client.get_template(StackName=stack)["TemplateBody"]
            template = body if isinstance(body, dict) else json.loads(body)
            change_set = client.describe_change_set(StackName=stack, ChangeSetName=form.get("ChangeSetName", ""))
        except Exception as error:  # the harness measures; it never breaks a call
            ctx.log.warn(f"timing-cloudformation: {stack}: {error}")
            return
        names = [c["ResourceChange"]["LogicalResourceId"] for c in change_set.get("Changes", [])]
        creating = not self.ends.get(stack) and all(
            c["ResourceChange"]["Action"] == "Add" for c in change_set.get("Changes", [])
        )
        seconds = duration(template, None if creating else set(names)) * _scale()
        stack_name = change_set.get("StackName", stack)
        self.ends[stack_name] = (time.time() + seconds, "CREATE" if creating else "UPDATE")

    def _in_progress(self, flow):
        now = time.time()
        text = flow.response.get_text()
        changed = False

        def member(match):
            nonlocal changed
            block = match.group(0)
            name = re.search(r"<StackName>([^<]+)</StackName>", block)
            if not name or name.group(1) not in self.ends:
                return block
            ends, kind = self.ends[name.group(1)]
            if now >= ends:
                return block
            changed = True
            block = re.sub(
                r"<StackStatus>[A-Z_]+</StackStatus>",
                f"<StackStatus>{kind}_IN_PROGRESS</StackStatus>",
                block,
            )
            return re.sub(r"<Outputs>.*?</Outputs>", "<Outputs/>", block, flags=re.S)

        text = re.sub(r"<member>\s*<StackId>.*?</member>(?=\s*(<member>\s*<StackId>|</Stacks>))", member, text, flags=re.S)
        if changed:
            flow.response.set_text(text)


addons = [CloudFormationTiming()]
