"""Fixes to moto that make it behave as AWS where it does not, loaded into moto_server through
PYTHONPATH by the tests and scripts/moto.sh. Each fix names the AWS behaviour it restores.

1. CreateLaunchTemplateVersion: moto keeps the new version's UserData as the plain base64 text
   instead of the decoded form CreateLaunchTemplate keeps, and then fails (HTTP 500,
   AssertionError) to launch any instance from that version. AWS launches it. The fix gives
   the version's UserData the form moto's other paths expect, on first use.

2. ExecuteChangeSet: moto applies the change set's resources but keeps the stack's outputs
   (and parsed template) from before, so a stack created or updated through a change set has
   no Outputs. AWS evaluates the template's Outputs when the execution completes. The fix
   re-reads the template and its outputs after moto's own execution.

3. A change set that modifies a resource whose type moto cannot update (a DynamoDB table)
   drops the resource from the stack (moto records it as nothing) and every later
   DescribeStacks of the stack fails (HTTP 500). AWS updates such a resource in place or
   replaces it. The fix keeps the resource when its properties are unchanged (a change of its
   DeletionPolicy alone) and otherwise creates it anew, as a replacement does (new physical
   name), keeping the old one, as `UpdateReplacePolicy: Retain` asks (Beanpole's templates ask
   it of every resource that holds data).

4. CreateChangeSet of type CREATE always makes a new stack in moto, even when a stack of that
   name exists, so two stacks share a name and DescribeStacks answers with the older one. AWS
   puts a CREATE change set on the stack that is still in REVIEW_IN_PROGRESS (a change set
   never executed) and refuses one for a stack that exists otherwise. The fix removes the
   reviewed stack (and its change sets) before moto makes the new one (its stack id changes,
   which AWS would keep), and refuses the second case with AlreadyExistsException.

5. ExecuteChangeSet answers a resource's failure (an invalid property) as its own error, and
   leaves the stack in progress. AWS accepts the execution and the stack fails on its own: the
   resource's event says CREATE_FAILED (or UPDATE_FAILED) with the reason, and the stack rolls
   back (ROLLBACK_COMPLETE after a failed creation, its resources deleted;
   UPDATE_ROLLBACK_COMPLETE after a failed update). The fix records those events and states.
   (The rollback of an update restores the stack's template, not the resources moto changed.)

6. An IAM role a stack creates keeps its inline policies as the template's objects, not as
   the JSON text IAM keeps, so every later GetAccountAuthorizationDetails and GetRolePolicy
   of the account fails (HTTP 500). AWS keeps a policy document as text. The fix stores the
   text.

7. DescribeStacks gives a parameter's resolved value as its ParameterValue (a list
   parameter as Python's text of a list, an SSM parameter type as the value it names). AWS
   gives the value the stack was given (`a,b,c`; the SSM parameter's name) and the resolved
   one apart. The fix gives the value given.

8. A load balancer or target group a stack creates has none of the template's `Tags`. AWS
   tags it. The fix tags it.

9. ListInstanceProfileTags is not implemented (HTTP 500). AWS answers with the profile's
   tags (none for a profile a stack made: AWS::IAM::InstanceProfile takes no tags). The fix
   answers with the tags moto keeps.

10. `Fn::GetAtt` of an SNS topic's `TopicArn` fails the stack's every DescribeStacks
    (HTTP 500); AWS gives the topic's ARN. The fix gives it.

11. ReceiveMessage is not atomic: moto checks that a message is visible and then marks it
    received without a lock, so two receives at the same moment (two instances' daemons, under
    load) both take one message, the second with ApproximateReceiveCount 2, although the first
    holds it for its visibility timeout. AWS hides a received message from every other receive
    until its visibility timeout ends (a standard queue's rare duplicate aside). The fix takes
    each pass over the queue under one lock and waits for messages (long polling) outside it.

12. A stack's events name only the stack itself: moto records no event for the resources a
    change set creates, updates or deletes, nor for those a stack's deletion removes. AWS
    records each resource's `…_IN_PROGRESS` and `…_COMPLETE` (with its physical id), and
    `DELETE_SKIPPED` for one its `DeletionPolicy: Retain` keeps. The fix records them, between
    the stack's own events.

13. DetectStackDrift, DescribeStackDriftDetectionStatus and DescribeStackResourceDrifts are not
    implemented (moto answers that the action is unknown). AWS compares each resource of a
    stack with its template and reports it IN_SYNC, MODIFIED (with each property's expected and
    actual value), DELETED, or NOT_CHECKED. The fix detects at once, for an Auto Scaling group
    (MinSize, MaxSize), an SQS queue (its timing and size attributes) and a DynamoDB table
    (its existence), and reports every other type NOT_CHECKED, as AWS does for types it does not
    check.
"""

try:
    from moto.ec2.models import launch_templates as _launch_templates
    from moto.ec2.utils import parse_user_data as _parse_user_data
except Exception:  # not moto's interpreter, or another moto: leave it alone
    _launch_templates = None

if _launch_templates is not None:
    _original = _launch_templates.LaunchTemplateVersion.user_data

    def _user_data(self):
        value = self.data.get("UserData")
        if isinstance(value, (str, bytes)) and not isinstance(value, type(_parse_user_data("AA=="))):
            self.data["UserData"] = _parse_user_data(value)
        return _original.fget(self)

    _launch_templates.LaunchTemplateVersion.user_data = property(_user_data)

try:
    from moto.cloudformation import models as _cfn_models
except Exception:
    _cfn_models = None

if _cfn_models is not None:
    _original_execute = _cfn_models.CloudFormationBackend.execute_change_set

    def _execute_change_set(self, change_set_name, stack_name=None):
        # The change set moto executes: by ARN, else the last of that name (as moto looks).
        executed = self.change_sets.get(change_set_name)
        if executed is None:
            for candidate in self.change_sets.values():
                if candidate.change_set_name == change_set_name:
                    executed = candidate
        before = None
        if executed is not None and executed.stack_id in self.stacks:
            before = self.stacks[executed.stack_id].template
        try:
            result = _original_execute(self, change_set_name, stack_name)
        except Exception as error:
            stack = self.stacks.get(executed.stack_id) if executed is not None else None
            if stack is None:
                raise
            _fail(stack, executed, error, before)
            return None
        stack = self.stacks.get(executed.stack_id) if executed is not None else None
        if stack is not None:
            try:
                stack._parse_template()
                stack.output_map = stack._create_output_map()
            except Exception:  # an output moto cannot evaluate: keep the ones it had
                pass
            verbs = {"Add": "CREATE", "Modify": "UPDATE", "Remove": "DELETE"}
            _resource_events(stack, [
                (verbs[c.action], c.logical_resource_id, c.resource_type)
                for c in (getattr(executed, "changes", None) or []) if c.action in verbs
            ])
        return result

    def _resource_events(stack, changes):
        """Each changed resource's events, before the stack's last (its `…_COMPLETE`)."""
        if not changes:
            return
        parsed = getattr(stack.resource_map, "_parsed_resources", {}) or {}
        events = []
        for verb, name, kind in changes:
            physical = getattr(parsed.get(name), "physical_resource_id", None) or ""
            phases = ("SKIPPED",) if verb == "DELETE_KEPT" else ("IN_PROGRESS", "COMPLETE")
            verb = "DELETE" if verb == "DELETE_KEPT" else verb
            for phase in phases:
                events.append(_cfn_models.Event(
                    stack_id=stack.stack_id,
                    stack_name=stack.name,
                    logical_resource_id=name,
                    physical_resource_id=str(physical),
                    resource_type=kind,
                    resource_status="%s_%s" % (verb, phase),
                    resource_status_reason=None,
                    resource_properties=None,
                ))
        last = stack.events.pop() if stack.events else None
        stack.events.extend(events)
        if last is not None:
            stack.events.append(last)

    _original_delete_stack = _cfn_models.CloudFormationBackend.delete_stack

    def _delete_stack(self, name):
        stack = None
        for candidate in self.stacks.values():
            if name in (candidate.name, candidate.stack_id) and not candidate.status.startswith("DELETE"):
                stack = candidate
        removed = []
        if stack is not None:
            resources = (stack.template_dict or {}).get("Resources", {}) or {}
            # A resource kept by its DeletionPolicy is DELETE_SKIPPED, as AWS records it.
            removed = [("DELETE_KEPT" if (r or {}).get("DeletionPolicy") == "Retain" else "DELETE",
                        n, (r or {}).get("Type", "")) for n, r in resources.items()]
        result = _original_delete_stack(self, name)
        # moto deletes a stack named by name through its id (this again): its events once.
        if stack is not None and not getattr(stack, "_resources_deleted", False):
            stack._resources_deleted = True
            _resource_events(stack, removed)
        return result

    def _fail(stack, change_set, error, template_before):
        creating = change_set.change_set_type == "CREATE"
        parsed = getattr(stack.resource_map, "_parsed_resources", {})
        resources = change_set.template_dict.get("Resources", {}) or {}
        failed = [name for name in resources if parsed.get(name) is None] or list(resources)[:1]
        reason = getattr(error, "message", None) or str(error)
        for name in failed[:1]:
            stack.events.append(
                _cfn_models.Event(
                    stack_id=stack.stack_id,
                    stack_name=stack.name,
                    logical_resource_id=name,
                    physical_resource_id="",
                    resource_type=resources.get(name, {}).get("Type", ""),
                    resource_status="CREATE_FAILED" if creating else "UPDATE_FAILED",
                    resource_status_reason=reason,
                    resource_properties=None,
                )
            )
        change_set.execution_status = "EXECUTE_FAILED"
        if creating:
            stack._add_stack_event(
                "ROLLBACK_IN_PROGRESS",
                resource_status_reason="The following resource(s) failed to create: [%s]."
                % ", ".join(failed[:1]),
            )
            try:
                stack.resource_map.delete()
            except Exception:
                pass
            stack._add_stack_event("ROLLBACK_COMPLETE")
            stack.status = "ROLLBACK_COMPLETE"
        else:
            stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
            stack.status = "UPDATE_ROLLBACK_COMPLETE"
            if template_before is not None:
                stack.template = template_before

    _cfn_models.CloudFormationBackend.execute_change_set = _execute_change_set
    _cfn_models.CloudFormationBackend.delete_stack = _delete_stack

try:
    from moto.cloudformation import parsing as _cfn_parsing
except Exception:
    _cfn_parsing = None

if _cfn_parsing is not None:
    _original_update = _cfn_parsing.parse_and_update_resource

    _original_map_update = _cfn_parsing.ResourceMap.update

    def _map_update(self, template, parameters=None):
        self._beanpole_before = dict(getattr(self, "_resource_json_map", {}) or {})
        return _original_map_update(self, template, parameters)

    _cfn_parsing.ResourceMap.update = _map_update

    def _parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        updated = _original_update(logical_id, resource_json, resources_map, account_id, region_name)
        if updated is not None:
            return updated
        before = getattr(resources_map, "_beanpole_before", {}).get(logical_id, {})
        if before.get("Properties") == resource_json.get("Properties"):
            return resources_map._parsed_resources.get(logical_id)
        try:
            cls = _cfn_parsing.resource_class_from_type(resource_json["Type"])
        except Exception:
            return updated
        if cls is not None and hasattr(cls.update_from_cloudformation_json, "__isabstractmethod__"):
            return _cfn_parsing.parse_and_create_resource(
                logical_id, resource_json, resources_map, account_id, region_name
            )
        return updated

    _cfn_parsing.parse_and_update_resource = _parse_and_update_resource

if _cfn_models is not None:
    _original_create_change_set = _cfn_models.CloudFormationBackend.create_change_set

    def _create_change_set(self, stack_name, change_set_name, template, parameters, description,
                           change_set_type, *args, **kwargs):
        if change_set_type == "CREATE":
            for stack_id, stack in list(self.stacks.items()):
                if stack.name != stack_name:
                    continue
                if stack.status == "REVIEW_IN_PROGRESS":
                    del self.stacks[stack_id]
                    for cs_id, cs in list(self.change_sets.items()):
                        if cs.stack_id == stack_id:
                            del self.change_sets[cs_id]
                else:
                    from moto.cloudformation.exceptions import AlreadyExistsException

                    raise AlreadyExistsException("Stack [%s] already exists" % stack_name)
        return _original_create_change_set(self, stack_name, change_set_name, template, parameters,
                                           description, change_set_type, *args, **kwargs)

    _cfn_models.CloudFormationBackend.create_change_set = _create_change_set

try:
    import json as _json
    from moto.iam import models as _iam_models
except Exception:
    _iam_models = None

if _iam_models is not None:
    _original_put_policy = _iam_models.Role.put_policy

    def _put_policy(self, policy_name, policy_json):
        if not isinstance(policy_json, str):
            policy_json = _json.dumps(policy_json)
        return _original_put_policy(self, policy_name, policy_json)

    _iam_models.Role.put_policy = _put_policy

if _cfn_models is not None:

    def _parameter_list(self):
        given = getattr(self.resource_map, "input_parameters", None) or self.parameters or {}
        hidden = self.resource_map.no_echo_parameter_keys
        return [
            {
                "ParameterKey": k,
                "ParameterValue": "****" if k in hidden else given.get(k, v),
            }
            for k, v in self.resource_map.resolved_parameters.items()
        ]

    _cfn_models.Stack.parameter_list = property(_parameter_list)

try:
    from moto.elbv2 import models as _elbv2_models
except Exception:
    _elbv2_models = None

if _elbv2_models is not None:

    def _tagged(cls):
        original = cls.create_from_cloudformation_json.__func__

        def create(klass, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            made = original(klass, resource_name, cloudformation_json, account_id, region_name, **kwargs)
            tags = (cloudformation_json.get("Properties") or {}).get("Tags") or []
            if tags:
                backend = _elbv2_models.elbv2_backends[account_id][region_name]
                backend.add_tags([made.arn], tags)
            return made

        cls.create_from_cloudformation_json = classmethod(create)

    _tagged(_elbv2_models.FakeLoadBalancer)
    _tagged(_elbv2_models.FakeTargetGroup)

try:
    from moto.core.responses import ActionResult as _ActionResult
    from moto.iam import responses as _iam_responses
except Exception:
    _iam_responses = None

if _iam_responses is not None and not hasattr(_iam_responses.IamResponse, "list_instance_profile_tags"):

    def _list_instance_profile_tags(self):
        profile = self.backend.get_instance_profile(self._get_param("InstanceProfileName"))
        tags = profile.tags
        if isinstance(tags, dict):
            tags = list(tags.values())
        return _ActionResult({"Tags": tags or [], "IsTruncated": False})

    _iam_responses.IamResponse.list_instance_profile_tags = _list_instance_profile_tags

try:
    from moto.sns import models as _sns_models
except Exception:
    _sns_models = None

if _sns_models is not None:
    _original_topic_attribute = _sns_models.Topic.get_cfn_attribute
    _original_topic_has = _sns_models.Topic.has_cfn_attr.__func__

    def _topic_attribute(self, attribute_name):
        if attribute_name == "TopicArn":
            return self.arn
        return _original_topic_attribute(self, attribute_name)

    def _topic_has(cls, attr):
        return attr == "TopicArn" or _original_topic_has(cls, attr)

    _sns_models.Topic.get_cfn_attribute = _topic_attribute
    _sns_models.Topic.has_cfn_attr = classmethod(_topic_has)

try:
    import threading as _threading
    import time as _time

    from moto.sqs import models as _sqs_models
except Exception:
    _sqs_models = None

if _sqs_models is not None:
    _original_receive = _sqs_models.SQSBackend.receive_message
    _receive_lock = _threading.Lock()

    def _receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                         message_attribute_names=None):
        end = _time.time() + (wait_seconds_timeout or 0)
        while True:
            with _receive_lock:
                # One pass (no wait): take what is visible, atomically with other receives.
                result = _original_receive(self, queue_name, count, 0, visibility_timeout,
                                           message_attribute_names)
            left = end - _time.time()
            if result or left <= 0:
                return result
            started = _time.time()
            self.get_queue(queue_name).wait_for_messages(min(1, left))
            if _time.time() - started < 0.05:
                _time.sleep(0.05)  # visible messages another receive is taking, or held back

    _sqs_models.SQSBackend.receive_message = _receive_message

try:
    import datetime as _datetime
    import uuid as _uuid

    from moto.cloudformation import responses as _cfn_responses
    from moto.core.responses import ActionResult as _CfnActionResult
except Exception:
    _cfn_responses = None

if _cfn_responses is not None and not hasattr(_cfn_responses.CloudFormationResponse, "detect_stack_drift"):
    _detections = {}

    def _literal(value):
        """A template value drift can compare (a number or text), else None."""
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float, str)):
            return str(value)
        return None

    def _live_of(account, region, kind, physical):
        """The live resource's compared properties; None when it is gone; {} when unchecked."""
        if kind == "AWS::AutoScaling::AutoScalingGroup":
            from moto.autoscaling.models import autoscaling_backends
            group = autoscaling_backends[account][region].autoscaling_groups.get(physical)
            return None if group is None else {"MinSize": group.min_size, "MaxSize": group.max_size}
        if kind == "AWS::SQS::Queue":
            from moto.sqs.models import sqs_backends
            queue = sqs_backends[account][region].queues.get(str(physical).rstrip("/").split("/")[-1])
            if queue is None:
                return None
            return {
                "VisibilityTimeout": queue.visibility_timeout,
                "MessageRetentionPeriod": queue.message_retention_period,
                "DelaySeconds": queue.delay_seconds,
                "MaximumMessageSize": queue.maximum_message_size,
                "ReceiveMessageWaitTimeSeconds": queue.receive_message_wait_time_seconds,
            }
        if kind == "AWS::DynamoDB::Table":
            from moto.dynamodb.models import dynamodb_backends
            return {} if physical in dynamodb_backends[account][region].tables else None
        return "unchecked"

    def _detect(account, region, stack):
        now = _datetime.datetime.now(_datetime.timezone.utc)
        parsed = getattr(stack.resource_map, "_parsed_resources", {}) or {}
        resources = (stack.template_dict or {}).get("Resources", {}) or {}
        drifts = []
        for name, entry in resources.items():
            kind = (entry or {}).get("Type", "")
            physical = getattr(parsed.get(name), "physical_resource_id", None)
            if physical is None:
                continue
            drift = {
                "StackId": stack.stack_id,
                "LogicalResourceId": name,
                "PhysicalResourceId": str(physical),
                "ResourceType": kind,
                "PropertyDifferences": [],
                "Timestamp": now,
            }
            live = _live_of(account, region, kind, physical)
            if live == "unchecked":
                drift["StackResourceDriftStatus"] = "NOT_CHECKED"
            elif live is None:
                drift["StackResourceDriftStatus"] = "DELETED"
            else:
                expected = (entry or {}).get("Properties", {}) or {}
                for prop, actual in sorted(live.items()):
                    want = _literal(expected.get(prop))
                    if want is not None and actual is not None and str(actual) != want:
                        drift["PropertyDifferences"].append({
                            "PropertyPath": "/" + prop,
                            "ExpectedValue": want,
                            "ActualValue": str(actual),
                            "DifferenceType": "NOT_EQUAL",
                        })
                drift["StackResourceDriftStatus"] = "MODIFIED" if drift["PropertyDifferences"] else "IN_SYNC"
            drifts.append(drift)
        return drifts, now

    def _detect_stack_drift(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        drifts, now = _detect(self.current_account, self.region, stack)
        detection = str(_uuid.uuid4())
        _detections[detection] = (stack.stack_id, drifts, now)
        stack._drift_detection = detection
        return _CfnActionResult({"StackDriftDetectionId": detection})

    def _describe_stack_drift_detection_status(self):
        detection = self._get_param("StackDriftDetectionId")
        found = _detections.get(detection)
        if found is None:
            from moto.cloudformation.exceptions import ValidationError
            raise ValidationError(detection, message="Drift detection %s does not exist" % detection)
        stack_id, drifts, now = found
        drifted = [d for d in drifts if d["StackResourceDriftStatus"] in ("MODIFIED", "DELETED")]
        return _CfnActionResult({
            "StackId": stack_id,
            "StackDriftDetectionId": detection,
            "StackDriftStatus": "DRIFTED" if drifted else "IN_SYNC",
            "DetectionStatus": "DETECTION_COMPLETE",
            "DriftedStackResourceCount": len(drifted),
            "Timestamp": now,
        })

    def _describe_stack_resource_drifts(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        found = _detections.get(getattr(stack, "_drift_detection", None))
        drifts = found[1] if found else []
        wanted = self._get_param("StackResourceDriftStatusFilters", [])
        if wanted:
            drifts = [d for d in drifts if d["StackResourceDriftStatus"] in wanted]
        return _CfnActionResult({"StackResourceDrifts": drifts})

    _cfn_responses.CloudFormationResponse.detect_stack_drift = _detect_stack_drift
    _cfn_responses.CloudFormationResponse.describe_stack_drift_detection_status = _describe_stack_drift_detection_status
    _cfn_responses.CloudFormationResponse.describe_stack_resource_drifts = _describe_stack_resource_drifts
