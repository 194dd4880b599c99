//! Elastic Beanstalk apps as their users deploy them to EB, against moto with the local fleet
//! playing the instances (each in its own filesystem view, EB's paths): nothing in the app
//! changes for Beanpole.

use crate::common;
use crate::platform::{copy_tree, get, pip_env};
use crate::view::{check_eb_django, migrated};

use common::fleet::Fleet;
use common::moto::Moto;
use common::{run, text, TempDir};
use std::time::Duration;

#[test]
fn moto_an_eb_django_site_runs_unchanged_on_the_local_fleet() {
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("eb-django");
    copy_tree(
        &common::manifest_dir().join("tests/fixtures/eb-django"),
        dir.path(),
    );
    let out = run(moto.beanpole(dir.path()).args(["apply", "--auto-approve"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fleet = Fleet::start(&moto, dir.path(), &pip_env());
    fleet.wait_serving("django-env", 1, Duration::from_secs(300));
    let out = run(moto
        .beanpole(dir.path())
        .args(["deploy", "django-env", "--label", "v1"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out),
        fleet.output()
    );
    let members = fleet.wait_serving("django-env", 2, Duration::from_secs(120));
    assert_eq!(members.len(), 2, "{}", fleet.output());
    for m in &members {
        check_eb_django(m.port);
    }
    // `migrate` is leader_only: it ran on one instance of the two (each has its own SQLite).
    let migrated = members
        .iter()
        .filter(|m| migrated(&fleet.dir.join(&m.instance).join("var/app/current")))
        .count();
    assert_eq!(migrated, 1, "{}", fleet.output());
    // Two instances on this machine, each its own /var/app/current: a file put into one
    // instance's folder is served by that instance only.
    for m in &members {
        let file = fleet
            .dir
            .join(&m.instance)
            .join("var/app/current/static/whoami.txt");
        std::fs::write(&file, &m.instance).unwrap();
    }
    for m in &members {
        assert_eq!(
            get(m.port, "/static/whoami.txt"),
            (200, m.instance.clone()),
            "{}",
            fleet.output()
        );
    }
}
