//! Which hierarchies a cgroup set needs, for `create` and `create_at` alike.
use super::layout::{Home, Layout};
use super::set::{cg_err, errno};
use super::Limits;
use crate::error::{CgroupProblem, Result};
use std::path::Path;

/// The v1 hierarchies of a set: each mount point with its controllers.
pub(super) type V1Dirs<'a> = Vec<(&'a Path, Vec<String>)>;

/// The cgroup2 controllers and the v1 hierarchies (mount, controllers) a set with `limits`
/// needs: the hierarchy of each controller the limits use, and the v1 freezer when no
/// cgroup2 is mounted (to track the set's processes). `what` names the set's user in errors.
pub(super) fn hierarchies<'a>(
    layout: &'a Layout,
    limits: &Limits,
    parent: Option<&Path>,
    what: &str,
) -> Result<(Vec<&'static str>, V1Dirs<'a>)> {
    limits.validate()?;
    if limits.devices.is_some() && !matches!(layout.home("devices"), Some(Home::V1(_))) {
        return Err(CgroupProblem::DevicesWithoutV1.into());
    }
    let mut v2_needed = Vec::new();
    let mut v1_mounts: V1Dirs<'a> = Vec::new();
    let add_v1 = |mount: &Path, v1: &mut V1Dirs<'a>| {
        if let Some(h) = layout.v1().iter().find(|h| h.mount == mount) {
            if !v1.iter().any(|(p, _)| *p == mount) {
                v1.push((h.mount.as_path(), h.controllers.clone()));
            }
        }
    };
    for c in limits.controllers() {
        match layout.home(c) {
            Some(Home::Unified(_)) => v2_needed.push(c),
            Some(Home::V1(m)) => add_v1(m, &mut v1_mounts),
            None => {
                return Err(cg_err(
                    format!(
                    "{c} limits need the {c} controller, which no mounted cgroup hierarchy offers"
                ),
                    errno(libc::ENOENT),
                ))
            }
        }
    }
    if layout.unified().is_none() {
        if let Some(h) = layout
            .v1()
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == "freezer"))
        {
            add_v1(&h.mount, &mut v1_mounts);
        }
        if parent.is_some() {
            return Err(CgroupProblem::ParentWithoutCgroup2.into());
        }
        if v1_mounts.is_empty() {
            return Err(cg_err(
                format!("track the {what}'s processes: no cgroup2 hierarchy and no v1 freezer is mounted"),
                errno(libc::ENOENT),
            ));
        }
    }
    Ok((v2_needed, v1_mounts))
}
