//! The `instance` block of an environment.

use super::*;

pub(super) fn read_instance(
    file: FileId,
    block: Option<&Block>,
    ev: &mut Evaluator,
) -> Option<Instance> {
    let mut instance = Instance {
        instance_type: DEFAULT_INSTANCE_TYPE.to_string(),
        ami: None,
        key_name: None,
        port: 80,
    };
    let Some(block) = block else {
        return Some(instance);
    };
    let r = sub_reader(
        file,
        block,
        "instance",
        &["type", "ami", "key_name", "port"],
        &[],
        ev,
    );
    if let Some((t, span)) = r.string(ev, "type") {
        if r.check(ev, "instance type", &t, &span, checks::instance_type(&t)) {
            instance.instance_type = t;
        }
    }
    if let Some((ami, span)) = r.string(ev, "ami") {
        if r.check(ev, "AMI id", &ami, &span, checks::resource_id(&ami, "ami")) {
            instance.ami = Some(ami);
        }
    }
    instance.key_name = r.string(ev, "key_name").map(|(k, _)| k);
    if let Some((port, span)) = r.number(ev, "port") {
        if r.check(
            ev,
            "port",
            &crate::spec::value::format_number(port),
            &span,
            checks::port(port),
        ) {
            instance.port = port as u16;
        }
    }
    (!r.failed()).then_some(instance)
}
