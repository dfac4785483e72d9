//! A new user namespace: its id maps (resolved, checked, and written by the child itself or
//! by cleave from outside) and the ids the program runs as.
use crate::error::{Error, Origin, Problem, Result};
use crate::idmap::{self, ResolvedMaps};
use crate::plan::{text, Step};
use crate::sandbox::Ids;
use cleave_child::Op;

/// The maps for `ids`, refused when the uid or gid asked for has no mapping.
pub(crate) fn resolve(ids: &Ids, euid: u32, egid: u32) -> Result<ResolvedMaps> {
    let maps = ids.mapping.resolve(euid, egid, ids.setgroups)?;
    for (id, list, origin) in [
        (ids.uid, &maps.users, Origin::Uid),
        (ids.gid, &maps.groups, Origin::Gid),
    ] {
        if let Some(id) = id {
            if !idmap::maps_inside(list, id) {
                return Err(Error::Invalid {
                    origin,
                    problem: Problem::NotMapped(id),
                });
            }
        }
    }
    Ok(maps)
}

/// The child writes its own single-id maps: "deny" to setgroups, then gid_map and uid_map.
pub(crate) fn child_steps(maps: &ResolvedMaps) -> Vec<Step> {
    [
        ("setgroups", "deny".to_string(), Origin::GroupMap),
        ("gid_map", idmap::render(&maps.groups), Origin::GroupMap),
        ("uid_map", idmap::render(&maps.users), Origin::UserMap),
    ]
    .into_iter()
    .map(|(file, data, origin)| {
        let path = format!("/proc/self/{file}");
        Step::new(
            Op::WriteFile {
                path: text(&path),
                data: data.clone().into_bytes(),
            },
            format!("write {:?} to {path}", data.trim_end()),
        )
        .at(origin)
    })
    .collect()
}

/// The uid and gid the program runs as: those asked for, or the caller's as the maps show
/// them (root when the caller is not mapped).
pub(crate) fn program_ids(maps: &ResolvedMaps, ids: &Ids, euid: u32, egid: u32) -> (u32, u32) {
    (
        ids.uid
            .unwrap_or_else(|| idmap::inside_of(&maps.users, euid).unwrap_or(0)),
        ids.gid
            .unwrap_or_else(|| idmap::inside_of(&maps.groups, egid).unwrap_or(0)),
    )
}

/// When the caller's own ids have no mapping in the new namespace (root mapping a range),
/// the child becomes the mapped root right after the maps exist (or the first mapped id):
/// until then its files would belong to nobody and every mount or mkdir would fail with
/// EOVERFLOW.
pub(crate) fn become_mapped(maps: &ResolvedMaps, euid: u32, egid: u32) -> Option<Step> {
    let unmapped = idmap::inside_of(&maps.users, euid).is_none()
        || idmap::inside_of(&maps.groups, egid).is_none();
    if !unmapped {
        return None;
    }
    let pick = |list: &[idmap::IdMap]| {
        if idmap::maps_inside(list, 0) {
            Some(0)
        } else {
            list.first().map(|m| m.inside)
        }
    };
    let (uid, gid) = (pick(&maps.users)?, pick(&maps.groups)?);
    Some(
        Step::new(
            Op::SetIds {
                uid,
                gid,
                clear_groups: maps.setgroups,
            },
            format!("become uid {uid} gid {gid} of the new user namespace"),
        )
        .at(Origin::UserMap),
    )
}
