//! Plan files: the one place a plan is read from bytes and checked before anything uses it.
//!
//! A plan file is data that anyone with write access could have edited between review and
//! apply, and so is the copy apply keeps in the state folder. Every loader goes through
//! [`read`]: `apply PLAN` and `show PLAN` for plan files, the state store for its copies
//! (`apply --resume`, `rollback`, `operation show`, `report`). Beyond the JSON shape and the
//! format version, [`read`] requires the structure the planner gives every plan ([`check`]):
//! operation ids of the `op-<uuid>` shape [`super::operation_id`] makes (they name files in the
//! state folder), unique step ids of the planner's shapes, every step on the operation's source
//! or target site, every dependency and step reference pointing at an earlier step.
//!
//! Three more checks need more than the file: [`check_spec`] that it belongs to the spec it is
//! applied with (and [`check_spec_sha256`] that the spec is the one it was made from);
//! [`check_resources`] that every step acts on a member's resources or on what an operation
//! creates, as the sites and the recorded state know them; and [`compare`] that it is exactly
//! what protector plans now from the same inputs, which is how `apply` proves that the plan
//! that runs is the plan that was reviewed. The planner holds every plan it makes to all but
//! the last ([`super::plan`]), so a plan it makes is never one its loaders refuse.
//!
//! A plan file's SHA-256 ([`sha256`]) is of its bytes exactly as `protector plan -o` wrote them
//! ([`to_bytes`]: pretty-printed JSON and a final newline); `show` prints it, and
//! `apply --expect-sha256` refuses any other file.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Action, FORMAT_VERSION, Plan, ResourceRef, SnapshotSource, Step, sha256_hex};
use crate::inventory::{Instance, Inventory};
use crate::spec::Spec;
use crate::state::{DrillResourceKind, RecordedState};

/// Why a plan cannot be used, said after the file's name ("failover.plan is not ...").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("is not a protector plan: {0}")]
    Json(String),
    #[error("has plan format {0}; this protector reads format {FORMAT_VERSION}")]
    Format(u32),
    #[error("is not a plan protector made: {0}")]
    Structure(String),
}

impl Invalid {
    /// The next thing to try, for a plan file.
    pub fn hint(&self) -> &'static str {
        match self {
            Invalid::Json(_) => "write plans with `protector plan FILE ... -o PLAN`",
            Invalid::Format(_) => {
                "plan again with this protector: `protector plan FILE ... -o PLAN`"
            }
            Invalid::Structure(_) => {
                "a plan is applied as protector wrote it: plan again and review the new plan, `protector plan FILE ... -o PLAN`"
            }
        }
    }
}

/// The bytes `protector plan -o` writes: what [`sha256`] is taken of.
pub fn to_bytes(plan: &Plan) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(plan).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// A plan file's SHA-256, as 64 lowercase hex digits: of its bytes as they are, whitespace
/// included (a file reformatted after review is another file).
pub fn sha256(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

/// The plan in `bytes`, checked ([`check`]).
pub fn read(bytes: &[u8]) -> Result<Plan, Invalid> {
    // The format version first: a newer format may not parse as this one.
    #[derive(serde::Deserialize)]
    struct Versioned {
        format_version: u32,
    }
    let parsed: Result<Plan, _> = serde_json::from_slice(bytes);
    let plan = match parsed {
        Ok(plan) => plan,
        Err(error) => {
            return Err(match serde_json::from_slice::<Versioned>(bytes) {
                Ok(versioned) if versioned.format_version != FORMAT_VERSION => {
                    Invalid::Format(versioned.format_version)
                }
                _ => Invalid::Json(error.to_string()),
            });
        }
    };
    if plan.format_version != FORMAT_VERSION {
        return Err(Invalid::Format(plan.format_version));
    }
    check(&plan).map_err(Invalid::Structure)?;
    Ok(plan)
}

/// What every plan the planner makes is: see the module's documentation. The error names the
/// first problem and where it is.
pub fn check(plan: &Plan) -> Result<(), String> {
    let operation = &plan.operation;
    check_operation_id("the operation id (operation.id)", &operation.id)?;
    for (what, id) in [
        (
            "the operation it supersedes (operation.supersedes)",
            &operation.supersedes,
        ),
        (
            "the drill it cleans up (options.drill)",
            &plan.options.drill,
        ),
        (
            "the operation it rolls back (options.rollback_of)",
            &plan.options.rollback_of,
        ),
    ] {
        if let Some(id) = id {
            check_operation_id(what, id)?;
        }
    }
    check_name(
        "the protection group (protection_group)",
        &plan.protection_group,
    )?;
    check_name(
        "the source site (operation.source_site)",
        &operation.source_site,
    )?;
    check_name(
        "the target site (operation.target_site)",
        &operation.target_site,
    )?;
    if operation.source_site == operation.target_site {
        return Err(format!(
            "its source and target are the same site, `{}`",
            operation.source_site
        ));
    }
    if let Some(digest) = &plan.spec_sha256
        && !is_sha256(digest)
    {
        return Err(format!(
            "the spec's SHA-256 (spec_sha256) `{}` is not 64 hex digits",
            digest.escape_debug()
        ));
    }
    let mut earlier: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, step) in plan.steps.iter().enumerate() {
        let at = || format!("steps[{index}] (`{}`)", step.id.escape_debug());
        if step.id.is_empty() {
            return Err(format!("steps[{index}] has an empty id"));
        }
        if let Some(first) = earlier.get(step.id.as_str()) {
            return Err(format!(
                "steps[{first}] and steps[{index}] have the same id `{}`",
                step.id.escape_debug()
            ));
        }
        if !is_step_id(&step.id) {
            return Err(format!(
                "{}: the id is not of a shape protector plans ({STEP_SHAPES})",
                at()
            ));
        }
        if step.site != operation.source_site && step.site != operation.target_site {
            return Err(format!(
                "{} acts on site `{}`, which is neither the operation's source {} nor its target {}",
                at(),
                step.site.escape_debug(),
                operation.source_site,
                operation.target_site
            ));
        }
        let references = References::of(&step.action);
        let depends_on = step.depends_on.iter().map(String::as_str);
        for dependency in depends_on.chain(references.steps) {
            if !earlier.contains_key(dependency) {
                return Err(format!(
                    "{} refers to step `{}`, which is not an earlier step of the plan",
                    at(),
                    dependency.escape_debug()
                ));
            }
        }
        for id in references.operations {
            check_operation_id(&format!("{}: the operation", at()), id)?;
        }
        if let Some(theirs) = references.their_steps.iter().find(|id| !is_step_id(id)) {
            return Err(format!(
                "{} refers to step `{}` of another operation, an id not of a shape protector plans",
                at(),
                theirs.escape_debug()
            ));
        }
        earlier.insert(&step.id, index);
    }
    Ok(())
}

/// That the plan belongs to `spec`: its group, and its sites among the spec's. A step that acts
/// on an instance or volume that exists before the plan runs (stops, deletes, unmanages,
/// restores it) must say which member's it is, for [`check_resources`] to hold it to that.
pub fn check_spec(plan: &Plan, spec: &Spec) -> Result<(), String> {
    if plan.protection_group != spec.name {
        return Err(format!(
            "the plan is for protection group `{}`, the spec describes `{}`",
            plan.protection_group, spec.name
        ));
    }
    for site in [&plan.operation.source_site, &plan.operation.target_site] {
        if !spec.sites.contains_key(site) {
            return Err(format!(
                "the plan's site `{}` is not one of the spec's ({})",
                site.escape_debug(),
                spec.sites.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for (index, step) in plan.steps.iter().enumerate() {
        if step.member.is_none()
            && let Some((what, _)) = existing(&step.action).first()
        {
            return Err(format!(
                "steps[{index}] (`{}`) acts on an existing {what} without naming the member it belongs to",
                step.id.escape_debug()
            ));
        }
    }
    Ok(())
}

/// That every step acts on a member's resources or on what an operation creates: each step's
/// member is one of the group's (in the spec, found on the sites, or recorded); each instance,
/// port or volume that exists before the plan runs and that a step acts on is its member's, as
/// the sites report it or the state recorded it; each resource an earlier operation created is
/// one that operation recorded; each operation referred to is one of the group's. Anything
/// else, whatever a plan file says, is not the group's to touch.
pub fn check_resources(
    plan: &Plan,
    spec: &Spec,
    inventory: &Inventory,
    state: &RecordedState,
) -> Result<(), String> {
    let mut known = Known::gather(spec, inventory, state);
    // A drill's cleanup steps, in the same plan, find what the drill created by its marker.
    known.operations.insert(&plan.operation.id);
    let group = &plan.protection_group;
    let operations = [
        &plan.operation.supersedes,
        &plan.options.drill,
        &plan.options.rollback_of,
    ];
    for operation in operations.into_iter().flatten() {
        known.operation("the plan", operation)?;
    }
    for (index, step) in plan.steps.iter().enumerate() {
        let at = || format!("steps[{index}] (`{}`)", step.id.escape_debug());
        let member_ids = |member: &str| {
            known.members.get(member).ok_or_else(|| {
                format!(
                    "{} is for `{}`, which is not a member of protection group `{group}` (not in the spec, not on the sites, not recorded)",
                    at(),
                    member.escape_debug()
                )
            })
        };
        if let Some(member) = &step.member {
            let ids = member_ids(member)?;
            for (what, id) in existing(&step.action) {
                if !ids.contains(id) {
                    return Err(format!(
                        "{} acts on {what} `{}`, which is not member {member}'s: neither the sites nor the recorded state know it as one of its",
                        at(),
                        id.escape_debug()
                    ));
                }
            }
        }
        if let Action::ProveRolledBack { members, .. } = &step.action {
            for (member, instance) in members {
                if !member_ids(member)?.contains(instance.as_str()) {
                    return Err(format!(
                        "{} expects `{}` as member {}'s instance, which neither the sites nor the recorded state know as one of its",
                        at(),
                        instance.escape_debug(),
                        member.escape_debug()
                    ));
                }
            }
        }
        let references = References::of(&step.action);
        for operation in references.operations {
            known.operation(&at(), operation)?;
        }
        if let Some(id) = references
            .recorded
            .iter()
            .find(|id| !known.created.contains(**id))
        {
            return Err(format!(
                "{} removes `{}`, which no operation of protection group `{group}` recorded creating",
                at(),
                id.escape_debug()
            ));
        }
    }
    Ok(())
}

/// What exists before a step of this action runs and the step acts on, by id: (what, id).
fn existing(action: &Action) -> Vec<(&'static str, &str)> {
    match action {
        Action::StopInstance { instance_id, .. } => vec![("instance", instance_id)],
        Action::DeleteInstance {
            instance_id,
            port_ids,
            ..
        } => std::iter::once(("instance", instance_id.as_str()))
            .chain(port_ids.iter().map(|id| ("port", id.as_str())))
            .collect(),
        Action::UnmanageVolume { volume_id, .. } => vec![("volume", volume_id)],
        Action::RestoreInstance {
            instance_id,
            volume_ids,
            ..
        } => std::iter::once(("instance", instance_id.as_str()))
            .chain(volume_ids.iter().map(|id| ("volume", id.as_str())))
            .collect(),
        _ => Vec::new(),
    }
}

/// The group's members with the ids of their resources, the ids of what its operations
/// recorded creating, and its operations: what the sites report and the state records.
#[derive(Default)]
struct Known<'a> {
    members: BTreeMap<&'a str, BTreeSet<&'a str>>,
    created: BTreeSet<&'a str>,
    operations: BTreeSet<&'a str>,
}

impl<'a> Known<'a> {
    fn gather(spec: &'a Spec, inventory: &'a Inventory, state: &'a RecordedState) -> Known<'a> {
        let mut known = Known::default();
        for member in &spec.members {
            known.members.entry(&member.instance).or_default();
        }
        // Discovery finds the members' instances only, by member name.
        for facts in inventory.sites.values().filter_map(|site| site.facts()) {
            for (member, instance) in &facts.instances {
                known.instance(member, instance);
            }
        }
        for document in state.sites.values().flatten() {
            for (member, record) in &document.members {
                let ids = known.members.entry(member).or_default();
                ids.extend(record.instance_id.as_deref());
                for instance in record.last_known.iter().chain(&record.previous) {
                    known.instance(member, instance);
                }
            }
            for pending in &document.pending_cleanup {
                let ids = known.members.entry(&pending.member).or_default();
                ids.extend(pending.instance_id.as_deref());
                ids.extend(pending.volume_ids.iter().map(String::as_str));
            }
            for operation in &document.operations {
                known.operations.insert(&operation.id);
                for resource in &operation.left_on_target {
                    known.created.extend(resource.id.as_deref());
                    if let Some(member) = &resource.member {
                        known.members.entry(member).or_default();
                    }
                }
            }
        }
        for run in state.runs.values() {
            known.operations.insert(&run.plan.operation.id);
            for step in &run.plan.steps {
                let created = run.progress.created(&step.id);
                known.created.extend(
                    created
                        .into_iter()
                        .flat_map(|c| c.values().map(String::as_str)),
                );
                if let Some(member) = &step.member {
                    // What a member's steps acted on and created is the member's.
                    let ids = known.members.entry(member).or_default();
                    ids.extend(existing(&step.action).into_iter().map(|(_, id)| id));
                    ids.extend(
                        created
                            .into_iter()
                            .flat_map(|c| c.values().map(String::as_str)),
                    );
                }
            }
        }
        known
    }

    fn instance(&mut self, member: &'a str, instance: &'a Instance) {
        let ids = self.members.entry(member).or_default();
        ids.insert(&instance.id);
        ids.extend(instance.ports.iter().map(|port| port.id.as_str()));
        ids.extend(instance.volumes.iter().map(|volume| volume.id.as_str()));
    }

    fn operation(&self, at: &str, operation: &str) -> Result<(), String> {
        if self.operations.contains(operation) {
            return Ok(());
        }
        Err(format!(
            "{at} refers to operation {}, which is not one the group recorded",
            operation.escape_debug()
        ))
    }
}

/// That the spec a plan file is applied with is the one it was made from: the plan must have
/// recorded its SHA-256 (`protector plan -o` does), or nothing proves which spec it was made
/// and reviewed with.
pub fn check_spec_sha256(plan: &Plan, spec_sha256: &str) -> Result<(), String> {
    match &plan.spec_sha256 {
        Some(recorded) if recorded == spec_sha256 => Ok(()),
        Some(recorded) => Err(format!(
            "the spec is not the one the plan was made from: its SHA-256 is {spec_sha256}, the plan was made from {recorded}"
        )),
        None => Err(
            "the plan does not record the SHA-256 of the spec it was made from (`spec_sha256`): it was made by an older protector, or edited"
                .to_string(),
        ),
    }
}

/// What a plan is compared with, as the differences name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// A plan protector makes now, from the same spec, state and sites.
    Fresh,
    /// The copy an operation kept when it started (the plan given to continue it).
    Started,
}

impl Reference {
    /// As in "the plan has X, protector plans Y".
    fn has(self) -> &'static str {
        match self {
            Reference::Fresh => "protector plans",
            Reference::Started => "it started with",
        }
    }
}

/// The first way `saved` differs from `reference`, in what decides what apply does: the group,
/// options, basis and operation; every step's id, phase, site, member, action, dependencies and
/// creations, in order; the snapshot recovered and the RPO it is held to. Left out is what
/// moves with time and only informs: estimates (the final snapshot's follows the last
/// transfer), the recovered snapshot's age and whether it exceeds the RPO (accepted with
/// `--accept-data-loss`; without, a fresh plan refuses), warnings (they quote that age), the
/// before/after views of the diff, and where the spec was and its digest (checked apart:
/// [`check_spec_sha256`]).
pub fn compare(saved: &Plan, reference: &Plan, what: Reference) -> Result<(), String> {
    let has = what.has();
    let same = |name: &str, saved: &dyn Shown, reference: &dyn Shown, equal: bool| {
        if equal {
            return Ok(());
        }
        Err(format!(
            "{name} differs from what {has}: the plan has {}, {has} {}",
            saved.shown(),
            reference.shown()
        ))
    };
    same(
        "`protection_group`",
        &saved.protection_group,
        &reference.protection_group,
        saved.protection_group == reference.protection_group,
    )?;
    same(
        "`options`",
        &saved.options,
        &reference.options,
        saved.options == reference.options,
    )?;
    same(
        "`basis`",
        &saved.basis,
        &reference.basis,
        saved.basis == reference.basis,
    )?;
    same(
        "`operation`",
        &saved.operation,
        &reference.operation,
        saved.operation == reference.operation,
    )?;
    let planned: BTreeMap<&str, &Step> = reference
        .steps
        .iter()
        .map(|step| (step.id.as_str(), step))
        .collect();
    for step in &saved.steps {
        let Some(other) = planned.get(step.id.as_str()) else {
            return Err(format!(
                "the plan has a step `{}` {}",
                step.id.escape_debug(),
                match what {
                    Reference::Fresh => "protector would not plan",
                    Reference::Started => "it did not start with",
                }
            ));
        };
        let fields: [(&str, &dyn Shown, &dyn Shown, bool); 6] = [
            (
                "phase",
                &step.phase,
                &other.phase,
                step.phase == other.phase,
            ),
            ("site", &step.site, &other.site, step.site == other.site),
            (
                "member",
                &step.member,
                &other.member,
                step.member == other.member,
            ),
            (
                "action",
                &step.action,
                &other.action,
                step.action == other.action,
            ),
            (
                "depends_on",
                &step.depends_on,
                &other.depends_on,
                step.depends_on == other.depends_on,
            ),
            (
                "creates",
                &step.creates,
                &other.creates,
                step.creates == other.creates,
            ),
        ];
        if let Some((field, mine, theirs, _)) = fields.iter().find(|(.., equal)| !equal) {
            return Err(format!(
                "step `{}` differs from what {has}: its {field} is {}, {has} {}",
                step.id,
                mine.shown(),
                theirs.shown()
            ));
        }
    }
    let saved_ids: BTreeSet<&str> = saved.steps.iter().map(|step| step.id.as_str()).collect();
    if let Some(missing) = reference
        .steps
        .iter()
        .find(|step| !saved_ids.contains(step.id.as_str()))
    {
        return Err(format!(
            "{has} a step `{}` the plan does not have",
            missing.id
        ));
    }
    if let Some((step, _)) = saved
        .steps
        .iter()
        .zip(&reference.steps)
        .find(|(mine, theirs)| mine.id != theirs.id)
    {
        return Err(format!(
            "the steps are in another order than what {has}, from step `{}` on",
            step.id
        ));
    }
    let recovered = |plan: &Plan| {
        plan.data_loss
            .as_ref()
            .map(|loss| (loss.snapshot.clone(), loss.rpo_secs))
    };
    let (mine, theirs) = (recovered(saved), recovered(reference));
    same(
        "`data_loss` (the snapshot recovered, the RPO)",
        &mine,
        &theirs,
        mine == theirs,
    )
}

/// A value as a difference shows it: its JSON, cut short.
trait Shown {
    fn shown(&self) -> String;
}

impl<T: Serialize> Shown for T {
    fn shown(&self) -> String {
        const AT_MOST: usize = 300;
        let text = serde_json::to_string(self).unwrap_or_default();
        match text.char_indices().nth(AT_MOST) {
            Some((end, _)) => format!("{}...", &text[..end]),
            None => text,
        }
    }
}

/// `op-` and the uuid shape [`super::operation_id`] makes (`op-xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx`,
/// lowercase hex): operation ids name files in the state folder.
pub fn is_operation_id(id: &str) -> bool {
    let Some(uuid) = id.strip_prefix("op-") else {
        return false;
    };
    let groups: Vec<&str> = uuid.split('-').collect();
    let hex = |group: &str| {
        group
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    groups.len() == 5
        && groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|group| hex(group))
        && groups[2].starts_with('4')
        && groups[3].starts_with('8')
}

fn check_operation_id(what: &str, id: &str) -> Result<(), String> {
    if is_operation_id(id) {
        return Ok(());
    }
    Err(format!(
        "{what} `{}` is not of the form op-<uuid> protector gives operations",
        id.escape_debug()
    ))
}

/// Site and group names name folders of the state store: the store's rule.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    crate::state::store::check_name(name)
        .map_err(|why| format!("{what} `{}` {why}", name.escape_debug()))
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What a step's action refers to besides its dependencies: steps of this plan, operations,
/// steps of those operations (found by their markers), and ids those operations recorded.
#[derive(Default)]
struct References<'a> {
    steps: Vec<&'a str>,
    operations: Vec<&'a str>,
    their_steps: Vec<&'a str>,
    recorded: Vec<&'a str>,
}

impl<'a> References<'a> {
    fn of(action: &'a Action) -> References<'a> {
        let mut found = References::default();
        match action {
            Action::BootInstance {
                port_steps,
                volume_steps,
                ..
            } => found
                .steps
                .extend(port_steps.iter().chain(volume_steps).map(String::as_str)),
            Action::ConfigureReplication {
                volumes_from_steps, ..
            } => found
                .steps
                .extend(volumes_from_steps.iter().map(String::as_str)),
            Action::VerifyInstance { boot_step, .. } => found.steps.push(boot_step),
            Action::Stabilize { boot_steps, .. } => {
                found.steps.extend(boot_steps.iter().map(String::as_str));
            }
            Action::CopyVolume {
                source: SnapshotSource::FromStep { step, .. },
                ..
            } => found.steps.push(step),
            Action::RemoveInstance {
                server: found_by, ..
            }
            | Action::RemovePort { port: found_by, .. }
            | Action::RemoveVolume {
                volume: found_by, ..
            }
            | Action::RemoveArrayVolume {
                array_volume: found_by,
                ..
            }
            | Action::StopRecovered {
                server: found_by, ..
            } => found.resource(found_by),
            Action::ProveRolledBack {
                operation,
                array_volumes,
                ..
            } => {
                found.operations.push(operation);
                for (_, reference) in array_volumes {
                    found.resource(reference);
                }
            }
            Action::ProveDrillClean {
                drill,
                array_volumes,
                ..
            } => {
                found.operations.push(drill);
                for reference in array_volumes {
                    found.resource(reference);
                }
            }
            _ => {}
        }
        found
    }

    fn resource(&mut self, reference: &'a ResourceRef) {
        match reference {
            ResourceRef::Step { step } => self.steps.push(step),
            ResourceRef::Marker { operation, step } => {
                self.operations.push(operation);
                self.their_steps.push(step);
            }
            ResourceRef::Recorded { id } => self.recorded.push(id),
        }
    }
}

/// The step ids the planner makes, by verb: `VERB`, `VERB/NAME` (a member, group or resource
/// name, which may itself hold `/`), `VERB/NAME/INDEX`, `tier_active/BOOT_ORDER`; the removals of
/// a takeover prefixed with `takeover/`.
const BARE: [&str; 7] = [
    "check_target",
    "finalize",
    "record_members",
    "record_sync",
    "prove_clean",
    "prove_rolled_back",
    "stabilize",
];
const NAMED: [&str; 18] = [
    "stop_instance",
    "create_server_group",
    "delete_server_group",
    "retire_volumes",
    "destroy_retired_volumes",
    "snapshot",
    "protect",
    "boot_instance",
    "verify_instance",
    "delete_instance",
    "restore_instance",
    "stop_recovered",
    "configure_replication",
    "create_protection_group",
    "add_volumes",
    "set_schedule",
    "add_target",
    "allow_target",
];
const INDEXED: [&str; 6] = [
    "copy_volume",
    "manage_volume",
    "create_port",
    "unmanage_volume",
    "delete_port",
    "destroy_volume",
];
const STEP_SHAPES: &str =
    "`check_target`, `stop_instance/<member>`, `copy_volume/<member>/<n>`, `tier_active/<n>`, ...";

/// More characters than any id the planner makes from names of at most 255 characters.
const STEP_ID_MAX: usize = 1024;

fn is_step_id(id: &str) -> bool {
    // In characters: a name of 255 four-byte characters is a valid OpenStack name.
    if id.chars().count() > STEP_ID_MAX || id.chars().any(char::is_control) {
        return false;
    }
    let id = id.strip_prefix("takeover/").unwrap_or(id);
    let (verb, tail) = match id.split_once('/') {
        Some((verb, tail)) => (verb, Some(tail)),
        None => (id, None),
    };
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match tail {
        None => BARE.contains(&verb),
        Some(tail) if verb == "tier_active" => digits(tail),
        Some(tail) if NAMED.contains(&verb) => !tail.is_empty(),
        Some(tail) if INDEXED.contains(&verb) => tail
            .rsplit_once('/')
            .is_some_and(|(name, index)| !name.is_empty() && digits(index)),
        Some(_) => false,
    }
}

/// Whether `id` is a step the planner makes to create a resource of `kind` (what a drill
/// records it left by): `boot_instance/<member>`, `copy_volume/<member>/<n>`, ...
pub fn is_creating_step(kind: DrillResourceKind, id: &str) -> bool {
    let verb = match kind {
        DrillResourceKind::Server => "boot_instance",
        DrillResourceKind::Port => "create_port",
        DrillResourceKind::CinderVolume => "manage_volume",
        DrillResourceKind::ArrayVolume => "copy_volume",
        DrillResourceKind::ServerGroup => "create_server_group",
    };
    is_step_id(id) && id.split_once('/').is_some_and(|(first, _)| first == verb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::FailoverType;
    use crate::plan::testing::{example_spec, inventory, no_state, request};

    fn planned() -> Plan {
        crate::plan::plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &request(FailoverType::Planned),
        )
        .expect("plans")
    }

    fn problem(plan: &Plan) -> String {
        match read(&to_bytes(plan)) {
            Err(Invalid::Structure(problem)) => problem,
            other => panic!("not refused for its structure: {other:?}"),
        }
    }

    fn index(plan: &Plan, id: &str) -> usize {
        plan.steps.iter().position(|step| step.id == id).unwrap()
    }

    #[test]
    fn a_plan_as_written_reads_back_the_same() {
        let plan = planned();
        assert_eq!(read(&to_bytes(&plan)), Ok(plan.clone()));
        assert!(to_bytes(&plan).ends_with(b"}\n"));
        assert_eq!(
            sha256(&to_bytes(&plan)),
            crate::plan::sha256_hex(&to_bytes(&plan))
        );
    }

    #[test]
    fn step_ids_of_the_longest_names_are_the_planners() {
        let name = "\u{1F600}".repeat(255);
        for id in [
            format!("takeover/unmanage_volume/{name}/0"),
            format!("stop_instance/{name}"),
        ] {
            assert!(is_step_id(&id), "{} bytes", id.len());
        }
        assert!(!is_step_id(&format!(
            "stop_instance/{}",
            "x".repeat(STEP_ID_MAX)
        )));
        assert!(is_creating_step(
            DrillResourceKind::Server,
            "boot_instance/db-1"
        ));
        assert!(is_creating_step(
            DrillResourceKind::ArrayVolume,
            "copy_volume/db-1/0"
        ));
        for (kind, id) in [
            (DrillResourceKind::Server, "boot_instance"),
            (DrillResourceKind::Server, "copy_volume/db-1/0"),
            (DrillResourceKind::Port, "create_port/db-1"),
            (DrillResourceKind::CinderVolume, "manage_volume/a\nb/0"),
            (
                DrillResourceKind::ArrayVolume,
                "takeover/copy_volume/db-1/0",
            ),
        ] {
            assert!(!is_creating_step(kind, id), "{id}");
        }
    }

    #[test]
    fn operation_ids_are_the_shape_protector_makes() {
        for fingerprint in ["", "0", &"f".repeat(64), &crate::plan::fingerprint(&1)] {
            let id = crate::plan::operation_id(fingerprint);
            assert!(is_operation_id(&id), "{id}");
        }
        for id in [
            "",
            "op-",
            "../../../../x/pwned",
            "op-00000000-0000-4000-8000-00000000000",
            "op-00000000-0000-4000-8000-0000000000000",
            "op-00000000-0000-5000-8000-000000000000",
            "op-00000000-0000-4000-9000-000000000000",
            "op-0000000A-0000-4000-8000-000000000000",
            "op-00000000-0000-4000-8000-00000000000/",
            "op-00000000_0000-4000-8000-000000000000",
            "OP-00000000-0000-4000-8000-000000000000",
        ] {
            assert!(!is_operation_id(id), "{id}");
        }
    }

    #[test]
    fn what_a_tester_edited_is_refused_saying_where() {
        let plan = planned();
        let edited = |edit: &dyn Fn(&mut Plan)| {
            let mut plan = plan.clone();
            edit(&mut plan);
            problem(&plan)
        };
        assert_eq!(
            edited(&|plan| plan.operation.id = "../../../../x/pwned".to_string()),
            "the operation id (operation.id) `../../../../x/pwned` is not of the form op-<uuid> protector gives operations"
        );
        assert!(edited(&|plan| plan.operation.id.clear()).contains("`` is not of the form"));
        assert!(
            edited(&|plan| plan.options.rollback_of = Some("op-1".to_string()))
                .starts_with("the operation it rolls back (options.rollback_of) `op-1`")
        );
        assert_eq!(
            edited(&|plan| {
                let copy = plan.steps[1].clone();
                plan.steps.insert(3, copy);
            }),
            format!(
                "steps[1] and steps[3] have the same id `{}`",
                plan.steps[1].id
            )
        );
        assert_eq!(
            edited(&|plan| plan.steps[2].id.clear()),
            "steps[2] has an empty id"
        );
        for id in [
            "stop_instance",
            "stop_instance/",
            "copy_volume/db-1",
            "copy_volume//0",
            "tier_active/one",
            "finalize/x",
            "rm/db-1",
            "stop_instance/db\n1",
        ] {
            let problem = edited(&|plan| plan.steps[1].id = id.to_string());
            assert!(
                problem.contains("the id is not of a shape protector plans"),
                "{id}: {problem}"
            );
        }
        let stop = index(&plan, "stop_instance/db-1");
        assert_eq!(
            edited(&|plan| plan.steps[stop].site = "site-aa".to_string()),
            format!(
                "steps[{stop}] (`stop_instance/db-1`) acts on site `site-aa`, which is neither the operation's source site-a nor its target site-b"
            )
        );
        assert!(
            edited(&|plan| plan.operation.target_site = "site-a".to_string())
                .contains("its source and target are the same site")
        );
        assert!(
            edited(&|plan| plan.operation.target_site = "a/b".to_string())
                .starts_with("the target site (operation.target_site) `a/b` has characters")
        );
        assert!(
            edited(&|plan| plan.protection_group = ".hidden".to_string())
                .contains("starts with `.`")
        );
        assert!(
            edited(&|plan| plan.spec_sha256 = Some("abc".to_string()))
                .contains("is not 64 hex digits")
        );
    }

    #[test]
    fn dependencies_and_references_point_at_earlier_steps() {
        let plan = planned();
        let boot = index(&plan, "boot_instance/web-1");
        let mut missing = plan.clone();
        missing.steps[boot].depends_on.push("nowhere".to_string());
        assert_eq!(
            problem(&missing),
            format!(
                "steps[{boot}] (`boot_instance/web-1`) refers to step `nowhere`, which is not an earlier step of the plan"
            )
        );
        // A cycle: the first step depends on the last.
        let mut cycle = plan.clone();
        let last = cycle.steps.last().unwrap().id.clone();
        cycle.steps[0].depends_on.push(last);
        assert!(problem(&cycle).starts_with("steps[0] (`check_target`) refers to step `finalize`"));
        let mut unknown_port = plan.clone();
        if let Action::BootInstance { port_steps, .. } = &mut unknown_port.steps[boot].action {
            port_steps.push("create_port/web-1/9".to_string());
        }
        assert!(problem(&unknown_port).contains("refers to step `create_port/web-1/9`"));
    }

    #[test]
    fn json_and_format_errors_say_which() {
        assert!(matches!(read(b"{not json"), Err(Invalid::Json(_))));
        assert!(matches!(read(b""), Err(Invalid::Json(_))));
        let mut value = serde_json::to_value(planned()).unwrap();
        value["format_version"] = 2.into();
        value["steps"] = "a newer shape".into();
        assert_eq!(read(value.to_string().as_bytes()), Err(Invalid::Format(2)));
        assert_eq!(
            Invalid::Format(2).to_string(),
            "has plan format 2; this protector reads format 1"
        );
    }

    #[test]
    fn a_plan_belongs_to_its_spec_and_the_spec_it_was_made_from() {
        let spec = example_spec();
        let plan = planned();
        assert_eq!(check_spec(&plan, &spec), Ok(()));
        let mut other = plan.clone();
        other.protection_group = "other".to_string();
        assert_eq!(
            check_spec(&other, &spec),
            Err(
                "the plan is for protection group `other`, the spec describes `prod-web-app`"
                    .to_string()
            )
        );
        let mut elsewhere = plan.clone();
        elsewhere.operation.target_site = "site-c".to_string();
        assert_eq!(
            check_spec(&elsewhere, &spec),
            Err("the plan's site `site-c` is not one of the spec's (site-a, site-b)".to_string())
        );

        let digest = "a".repeat(64);
        assert!(
            check_spec_sha256(&plan, &digest)
                .unwrap_err()
                .starts_with("the plan does not record the SHA-256 of the spec")
        );
        let recorded = Plan {
            spec_sha256: Some(digest.clone()),
            ..plan
        };
        assert_eq!(check_spec_sha256(&recorded, &digest), Ok(()));
        assert!(
            check_spec_sha256(&recorded, &"b".repeat(64))
                .unwrap_err()
                .starts_with("the spec is not the one the plan was made from")
        );
    }

    #[test]
    fn a_step_on_an_existing_resource_names_its_member() {
        let spec = example_spec();
        let plan = planned();
        let stop = index(&plan, "stop_instance/db-1");
        let mut anonymous = plan.clone();
        anonymous.steps[stop].member = None;
        assert_eq!(
            check_spec(&anonymous, &spec),
            Err(format!(
                "steps[{stop}] (`stop_instance/db-1`) acts on an existing instance without naming the member it belongs to"
            ))
        );
        let unmanage = index(&plan, "unmanage_volume/db-1/0");
        anonymous = plan.clone();
        anonymous.steps[unmanage].member = None;
        assert!(
            check_spec(&anonymous, &spec)
                .unwrap_err()
                .ends_with("acts on an existing volume without naming the member it belongs to")
        );
        // Steps on nothing that exists need no member: the check, the snapshot.
        assert!(plan.steps.iter().any(|step| step.member.is_none()));
    }

    #[test]
    fn every_step_acts_on_a_members_resources_or_what_an_operation_created() {
        let (spec, inventory, state) = (example_spec(), inventory(), no_state());
        let plan = planned();
        let resources = |plan: &Plan| check_resources(plan, &spec, &inventory, &state);
        assert_eq!(resources(&plan), Ok(()));
        // A tester's added step: an instance that is not a member deleted as if it were one.
        let delete = index(&plan, "delete_instance/web-1");
        let mut bystander = plan.clone();
        let mut step = bystander.steps[delete].clone();
        step.id = "delete_instance/billing-1".to_string();
        step.member = Some("billing-1".to_string());
        step.action = Action::DeleteInstance {
            instance_id: "id-billing-1".to_string(),
            name: "billing-1".to_string(),
            port_ids: Vec::new(),
        };
        bystander.steps.push(step);
        let last = bystander.steps.len() - 1;
        assert_eq!(
            resources(&bystander),
            Err(format!(
                "steps[{last}] (`delete_instance/billing-1`) is for `billing-1`, which is not a member of protection group `prod-web-app` (not in the spec, not on the sites, not recorded)"
            ))
        );
        // The same under a member's name.
        let mut retargeted = plan.clone();
        if let Action::DeleteInstance { instance_id, .. } = &mut retargeted.steps[delete].action {
            *instance_id = "id-billing-1".to_string();
        }
        assert_eq!(
            resources(&retargeted),
            Err(format!(
                "steps[{delete}] (`delete_instance/web-1`) acts on instance `id-billing-1`, which is not member web-1's: neither the sites nor the recorded state know it as one of its"
            ))
        );
        // Another member's port, volume.
        let mut ports = plan.clone();
        if let Action::DeleteInstance { port_ids, .. } = &mut ports.steps[delete].action {
            port_ids.push("port-db-1".to_string());
        }
        assert!(
            resources(&ports)
                .unwrap_err()
                .contains("acts on port `port-db-1`, which is not member web-1's")
        );
        let unmanage = index(&plan, "unmanage_volume/web-1/0");
        let mut volumes = plan.clone();
        if let Action::UnmanageVolume { volume_id, .. } = &mut volumes.steps[unmanage].action {
            *volume_id = "vol-db-1-0".to_string();
        }
        assert!(
            resources(&volumes)
                .unwrap_err()
                .contains("acts on volume `vol-db-1-0`, which is not member web-1's")
        );
        // What no operation of the group recorded, or an operation it does not know.
        let mut removal = plan.clone();
        removal.steps[delete].action = Action::RemoveInstance {
            name: "web-1".to_string(),
            server: ResourceRef::Recorded {
                id: "id-billing-1".to_string(),
            },
        };
        assert!(
            resources(&removal).unwrap_err().ends_with(
                "removes `id-billing-1`, which no operation of protection group `prod-web-app` recorded creating"
            )
        );
        let elsewhere = crate::plan::operation_id("0");
        removal.steps[delete].action = Action::RemoveInstance {
            name: "web-1".to_string(),
            server: ResourceRef::Marker {
                operation: elsewhere.clone(),
                step: "boot_instance/web-1".to_string(),
            },
        };
        assert!(resources(&removal).unwrap_err().ends_with(&format!(
            "refers to operation {elsewhere}, which is not one the group recorded"
        )));
        let mut proof = plan.clone();
        let finalize = proof.steps.len() - 1;
        proof.steps[finalize].action = Action::ProveRolledBack {
            operation: plan.operation.id.clone(),
            source: "site-a".to_string(),
            members: BTreeMap::from([("web-1".to_string(), "id-billing-1".to_string())]),
            array_volumes: Vec::new(),
        };
        assert!(
            resources(&proof)
                .unwrap_err()
                .contains("expects `id-billing-1` as member web-1's instance")
        );
        let supersedes = Plan {
            operation: crate::plan::Operation {
                supersedes: Some(elsewhere),
                ..plan.operation.clone()
            },
            ..plan.clone()
        };
        assert!(
            resources(&supersedes)
                .unwrap_err()
                .starts_with("the plan refers to operation")
        );
    }

    #[test]
    fn a_member_the_spec_no_longer_has_is_still_the_groups_while_recorded() {
        // After an unplanned failover, db-1 left the spec; its volumes on the old primary are
        // still owed a cleanup (sync-force plans it), and are db-1's as recorded.
        let mut spec = example_spec();
        spec.members.retain(|member| member.instance != "db-1");
        let mut state = crate::plan::testing::recorded(&inventory());
        for document in state.sites.values_mut().flatten() {
            document.pending_cleanup.push(crate::state::PendingCleanup {
                site: "site-a".to_string(),
                member: "db-1".to_string(),
                instance_id: Some("id-db-1".to_string()),
                volume_ids: vec!["vol-db-1-9".to_string()],
                operation: crate::plan::operation_id("1"),
            });
        }
        let mut plan = planned();
        let unmanage = index(&plan, "unmanage_volume/db-1/0");
        if let Action::UnmanageVolume { volume_id, .. } = &mut plan.steps[unmanage].action {
            *volume_id = "vol-db-1-9".to_string();
        }
        let mut inventory = inventory();
        inventory.sites.values_mut().for_each(|site| {
            if let crate::inventory::SiteInventory::Reachable(facts) = site {
                facts.instances.remove("db-1");
            }
        });
        assert_eq!(check_resources(&plan, &spec, &inventory, &state), Ok(()));
    }

    #[test]
    fn a_fresh_plan_differs_only_in_what_moves_with_time() {
        let fresh = crate::plan::plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &request(FailoverType::Unplanned),
        )
        .unwrap();
        let mut later = fresh.clone();
        later.data_loss.as_mut().unwrap().age_secs += 600.0;
        later.data_loss.as_mut().unwrap().exceeds_rpo = true;
        later.warnings.push("snapshot is 15m old".to_string());
        later.estimate.predicted_secs += 1.0;
        later.steps[1].estimate_secs += 1.0;
        later.spec_file = Some("/elsewhere/pg.yaml".to_string());
        later.before.status = "moved".to_string();
        assert_eq!(compare(&later, &fresh, Reference::Fresh), Ok(()));
    }

    #[test]
    fn the_first_difference_from_a_fresh_plan_is_named() {
        let fresh = planned();
        let differs = |edit: &dyn Fn(&mut Plan)| {
            let mut saved = fresh.clone();
            edit(&mut saved);
            compare(&saved, &fresh, Reference::Fresh).unwrap_err()
        };
        let stop = index(&fresh, "stop_instance/db-1");
        assert!(
            differs(&|plan| {
                plan.steps.remove(stop);
            })
            .starts_with("protector plans a step `stop_instance/db-1` the plan does not have")
        );
        assert_eq!(
            differs(&|plan| {
                let mut delete = plan.steps[stop].clone();
                delete.id = "delete_instance/billing-1".to_string();
                plan.steps.push(delete);
            }),
            "the plan has a step `delete_instance/billing-1` protector would not plan"
        );
        assert!(
            differs(&|plan| plan.steps[stop].site = "site-b".to_string()).starts_with(
                "step `stop_instance/db-1` differs from what protector plans: its site is \"site-b\", protector plans \"site-a\""
            )
        );
        assert!(
            differs(&|plan| {
                if let Action::StopInstance { instance_id, .. } = &mut plan.steps[stop].action {
                    *instance_id = "id-billing-1".to_string();
                }
            })
            .starts_with("step `stop_instance/db-1` differs from what protector plans: its action is {\"kind\":\"stop_instance\",\"instance_id\":\"id-billing-1\"")
        );
        assert!(
            differs(&|plan| plan.steps[stop].depends_on.clear())
                .contains("its depends_on is [], protector plans [\"check_target\"]")
        );
        assert!(
            differs(&|plan| plan.steps.swap(stop, stop + 1))
                .starts_with("the steps are in another order than what protector plans, from step")
        );
        assert!(
            differs(&|plan| plan.options.accept_data_loss = true)
                .starts_with("`options` differs from what protector plans: the plan has {")
        );
        assert!(
            differs(&|plan| plan.operation.id = crate::plan::operation_id("0"))
                .starts_with("`operation` differs from what protector plans")
        );
        assert!(
            differs(&|plan| plan.data_loss.as_mut().unwrap().snapshot = Some("x".to_string()))
                .starts_with("`data_loss` (the snapshot recovered, the RPO) differs")
        );
        let started = compare(
            &Plan {
                steps: Vec::new(),
                ..fresh.clone()
            },
            &fresh,
            Reference::Started,
        )
        .unwrap_err();
        assert!(
            started.starts_with("it started with a step `check_target` the plan does not have"),
            "{started}"
        );
    }
}
