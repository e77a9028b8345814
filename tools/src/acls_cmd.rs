//! `metaquorum acls --bootstrap-controller H:P add | list | remove`, with `kafka-acls`' options
//! and text: add is CreateAcls, list is DescribeAcls, remove is DeleteAcls. After add and
//! remove the resources' current ACLs are listed, as `kafka-acls` does. `kafka-acls` asks before
//! removing; this tool never prompts, so remove requires `--force`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;
use metaquorum_controller::metadata::acl::{
    AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType, StandardAcl,
};

use crate::admin::{block_on, report, AdminError, Call, ConnectArgs, ControllerSession};

/// What a failed `acls` command prints before the reason.
const ERROR_PREFIX: &str = "Error while executing ACL command: ";

/// The cluster resource's name.
const CLUSTER_NAME: &str = "kafka-cluster";

/// The host every ACL applies from unless `--allow-host`/`--deny-host` says otherwise.
const WILDCARD_HOST: &str = "*";

/// CreateAcls v1+ (pattern types, KIP-290).
pub const CREATE_ACLS: Call = Call {
    min_version: 1,
    max_version: 3,
    idempotent: false,
};

/// DescribeAcls v1+.
pub const DESCRIBE_ACLS: Call = Call {
    min_version: 1,
    max_version: 3,
    idempotent: true,
};

/// DeleteAcls v1+.
pub const DELETE_ACLS: Call = Call {
    min_version: 1,
    max_version: 3,
    idempotent: false,
};

/// The `acls` arguments.
#[derive(Debug, Args)]
pub struct AclsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(subcommand)]
    command: AclsCommand,
}

/// The `acls` subcommands.
#[derive(Debug, Subcommand)]
pub enum AclsCommand {
    /// Add ACLs, then list the resources' ACLs.
    Add {
        #[command(flatten)]
        resources: ResourceArgs,
        #[command(flatten)]
        entries: EntryArgs,
    },
    /// List ACLs: of the given resources, or all.
    List {
        #[command(flatten)]
        resources: ResourceArgs,
        /// Only the ACLs of this principal (Type:name); repeatable.
        #[arg(long = "principal")]
        principal: Vec<String>,
    },
    /// Remove ACLs (all of a resource's when no principal is given), then list what is left.
    Remove {
        #[command(flatten)]
        resources: ResourceArgs,
        #[command(flatten)]
        entries: EntryArgs,
        /// Remove without asking; required, since this tool does not prompt.
        #[arg(long)]
        force: bool,
    },
}

/// The resources an `acls` command is about.
#[derive(Debug, Clone, Default, Args)]
pub struct ResourceArgs {
    /// A topic (`*` for every topic); repeatable.
    #[arg(long)]
    pub topic: Vec<String>,
    /// A consumer group (`*` for every group); repeatable.
    #[arg(long)]
    pub group: Vec<String>,
    /// The cluster.
    #[arg(long)]
    pub cluster: bool,
    /// A transactional id (`*` for every one); repeatable.
    #[arg(long = "transactional-id")]
    pub transactional_id: Vec<String>,
    /// How resource names are matched: literal or prefixed for add; also match or any for list
    /// and remove.
    #[arg(long = "resource-pattern-type", value_enum, default_value = "literal")]
    pub resource_pattern_type: PatternArg,
}

/// `--resource-pattern-type` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum PatternArg {
    /// The exact name (or `*`).
    #[default]
    Literal,
    /// Names starting with the given one.
    Prefixed,
    /// Filters only: every ACL that applies to the named resource.
    Match,
    /// Filters only: literal and prefixed ACLs with exactly this name.
    Any,
}

impl PatternArg {
    fn pattern_type(self) -> PatternType {
        match self {
            PatternArg::Literal => PatternType::Literal,
            PatternArg::Prefixed => PatternType::Prefixed,
            PatternArg::Match => PatternType::Match,
            PatternArg::Any => PatternType::Any,
        }
    }
}

/// Who may or may not do what, from where.
#[derive(Debug, Clone, Default, Args)]
pub struct EntryArgs {
    /// A principal to allow, Type:name (e.g. User:alice, User:* for everyone); repeatable.
    #[arg(long = "allow-principal")]
    pub allow_principal: Vec<String>,
    /// A principal to deny, Type:name; repeatable.
    #[arg(long = "deny-principal")]
    pub deny_principal: Vec<String>,
    /// A host the allowed principals may connect from (default *); repeatable.
    #[arg(long = "allow-host")]
    pub allow_host: Vec<String>,
    /// A host the denied principals are denied from (default *); repeatable.
    #[arg(long = "deny-host")]
    pub deny_host: Vec<String>,
    /// An operation: Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite or All (the default); repeatable.
    #[arg(long = "operation")]
    pub operation: Vec<String>,
}

/// A resource pattern: type, name, pattern type.
pub type Pattern = (ResourceType, String, PatternType);

/// The resource patterns the options name. The cluster is always LITERAL `kafka-cluster`.
pub fn resource_patterns(args: &ResourceArgs) -> Vec<Pattern> {
    let pattern = args.resource_pattern_type.pattern_type();
    let mut out: Vec<Pattern> = Vec::new();
    let named = [
        (ResourceType::Topic, &args.topic),
        (ResourceType::Group, &args.group),
        (ResourceType::TransactionalId, &args.transactional_id),
    ];
    for (kind, names) in named {
        for n in names {
            out.push((kind, n.trim().to_string(), pattern));
        }
    }
    if args.cluster {
        out.push((
            ResourceType::Cluster,
            CLUSTER_NAME.to_string(),
            PatternType::Literal,
        ));
    }
    out.dedup();
    out
}

/// Parses an operation name in any case, with or without underscores (`DescribeConfigs`,
/// `describe_configs`, `DESCRIBE_CONFIGS`).
pub fn parse_operation(s: &str) -> Result<AclOperation, String> {
    const NAMED: [AclOperation; 13] = [
        AclOperation::All,
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Create,
        AclOperation::Delete,
        AclOperation::Alter,
        AclOperation::Describe,
        AclOperation::ClusterAction,
        AclOperation::DescribeConfigs,
        AclOperation::AlterConfigs,
        AclOperation::IdempotentWrite,
        AclOperation::CreateTokens,
        AclOperation::DescribeTokens,
    ];
    let squash = |s: &str| s.replace(['_', '-'], "").to_ascii_lowercase();
    let wanted = squash(s.trim());
    NAMED
        .iter()
        .copied()
        .find(|op| squash(op.as_str()) == wanted)
        .ok_or_else(|| format!("'{s}' is not an ACL operation"))
}

/// Checks a principal is `Type:name` with both parts present.
pub fn parse_principal(s: &str) -> Result<String, String> {
    let s = s.trim();
    match s.split_once(':') {
        Some((t, n)) if !t.is_empty() && !n.is_empty() => Ok(s.to_string()),
        _ => Err(format!(
            "principal '{s}' is not of the form Type:name (e.g. User:alice)"
        )),
    }
}

/// The operations Kafka's authorizer knows for a resource type (`ALL` is always allowed).
fn supported_operations(kind: ResourceType) -> &'static [AclOperation] {
    use AclOperation::*;
    match kind {
        ResourceType::Topic => &[
            Read,
            Write,
            Create,
            Describe,
            Delete,
            Alter,
            DescribeConfigs,
            AlterConfigs,
        ],
        ResourceType::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs],
        ResourceType::Cluster => &[
            Create,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
            Alter,
            Describe,
        ],
        ResourceType::TransactionalId => &[Describe, Write],
        ResourceType::DelegationToken => &[Describe],
        ResourceType::User => &[CreateTokens, DescribeTokens],
        ResourceType::Any | ResourceType::Unknown => &[],
    }
}

/// The entries (principal, host, operation, permission) the options describe, checked.
fn entries(args: &EntryArgs, patterns: &[Pattern]) -> Result<Vec<Entry>, AdminError> {
    let usage = AdminError::Usage;
    if args.allow_principal.is_empty() && !args.allow_host.is_empty() {
        return Err(usage("--allow-host needs --allow-principal".into()));
    }
    if args.deny_principal.is_empty() && !args.deny_host.is_empty() {
        return Err(usage("--deny-host needs --deny-principal".into()));
    }
    let operations: Vec<AclOperation> = if args.operation.is_empty() {
        vec![AclOperation::All]
    } else {
        let mut ops = Vec::new();
        for o in &args.operation {
            let op = parse_operation(o).map_err(usage)?;
            if !ops.contains(&op) {
                ops.push(op);
            }
        }
        ops
    };
    for (kind, _, _) in patterns {
        let supported = supported_operations(*kind);
        if let Some(bad) = operations
            .iter()
            .find(|op| **op != AclOperation::All && !supported.contains(op))
        {
            let valid: Vec<&str> = supported.iter().map(|o| o.as_str()).collect();
            return Err(usage(format!(
                "operation {bad} does not apply to {kind} resources; they take ALL, {}",
                valid.join(", ")
            )));
        }
    }
    let side =
        |principals: &[String], hosts: &[String], permission| -> Result<Vec<_>, AdminError> {
            let principals: Vec<String> = principals
                .iter()
                .map(|p| parse_principal(p))
                .collect::<Result<_, _>>()
                .map_err(usage)?;
            let hosts: Vec<String> = if hosts.is_empty() {
                vec![WILDCARD_HOST.to_string()]
            } else {
                hosts.iter().map(|h| h.trim().to_string()).collect()
            };
            let mut out = Vec::new();
            for p in &principals {
                for h in &hosts {
                    for op in &operations {
                        out.push((p.clone(), h.clone(), *op, permission));
                    }
                }
            }
            Ok(out)
        };
    let mut all = side(
        &args.allow_principal,
        &args.allow_host,
        AclPermissionType::Allow,
    )?;
    all.extend(side(
        &args.deny_principal,
        &args.deny_host,
        AclPermissionType::Deny,
    )?);
    let mut seen = BTreeSet::new();
    all.retain(|e| seen.insert((e.0.clone(), e.1.clone(), e.2, e.3)));
    Ok(all)
}

/// One ACL entry: principal, host, operation, permission.
type Entry = (String, String, AclOperation, AclPermissionType);

/// The resource patterns and entries of an `add` or `remove` (`verb`), which needs at least one
/// resource.
fn patterns_and_entries(
    verb: &str,
    resources: &ResourceArgs,
    args: &EntryArgs,
) -> Result<(Vec<Pattern>, Vec<Entry>), AdminError> {
    let patterns = resource_patterns(resources);
    if patterns.is_empty() {
        return Err(AdminError::Usage(format!(
            "{verb} needs a resource: --topic, --group, --transactional-id or --cluster"
        )));
    }
    let entries = entries(args, &patterns)?;
    Ok((patterns, entries))
}

/// The ACLs `add` creates: every entry on every resource pattern.
pub fn bindings_to_add(
    resources: &ResourceArgs,
    args: &EntryArgs,
) -> Result<Vec<StandardAcl>, AdminError> {
    if !matches!(
        resources.resource_pattern_type,
        PatternArg::Literal | PatternArg::Prefixed
    ) {
        return Err(AdminError::Usage(
            "add takes --resource-pattern-type literal or prefixed".into(),
        ));
    }
    let (patterns, entries) = patterns_and_entries("add", resources, args)?;
    if entries.is_empty() {
        return Err(AdminError::Usage(
            "add needs --allow-principal or --deny-principal".into(),
        ));
    }
    let mut out = Vec::new();
    for (kind, name, pattern) in &patterns {
        for (principal, host, operation, permission_type) in &entries {
            out.push(StandardAcl {
                resource_type: *kind,
                resource_name: name.clone(),
                pattern_type: *pattern,
                principal: principal.clone(),
                host: host.clone(),
                operation: *operation,
                permission_type: *permission_type,
            });
        }
    }
    Ok(out)
}

/// The filters `remove` deletes with: per resource pattern, one per entry, or one matching
/// every ACL of the pattern when no principal is given.
pub fn filters_to_remove(
    resources: &ResourceArgs,
    args: &EntryArgs,
) -> Result<Vec<AclBindingFilter>, AdminError> {
    let (patterns, entries) = patterns_and_entries("remove", resources, args)?;
    let mut out = Vec::new();
    for (kind, name, pattern) in &patterns {
        let base = pattern_filter(*kind, name, *pattern);
        if entries.is_empty() {
            out.push(base);
            continue;
        }
        for (principal, host, operation, permission_type) in &entries {
            out.push(AclBindingFilter {
                principal: Some(principal.clone()),
                host: Some(host.clone()),
                operation: *operation,
                permission_type: *permission_type,
                ..base.clone()
            });
        }
    }
    Ok(out)
}

/// The filter selecting every ACL of one resource pattern.
fn pattern_filter(kind: ResourceType, name: &str, pattern: PatternType) -> AclBindingFilter {
    AclBindingFilter {
        resource_type: kind,
        resource_name: Some(name.to_string()),
        pattern_type: pattern,
        ..AclBindingFilter::any()
    }
}

/// The filters `list` describes with: one per resource pattern, or one for everything.
pub fn filters_to_list(resources: &ResourceArgs) -> Vec<AclBindingFilter> {
    let patterns = resource_patterns(resources);
    if patterns.is_empty() {
        return vec![AclBindingFilter::any()];
    }
    patterns
        .iter()
        .map(|(k, n, p)| pattern_filter(*k, n, *p))
        .collect()
}

/// CreateAcls for `acls`.
pub fn create_acls_request(acls: &[StandardAcl]) -> CreateAclsRequest {
    let s = |v: &str| StrBytes::from_string(v.to_string());
    CreateAclsRequest::default().with_creations(
        acls.iter()
            .map(|a| {
                AclCreation::default()
                    .with_resource_type(a.resource_type.code())
                    .with_resource_name(s(&a.resource_name))
                    .with_resource_pattern_type(a.pattern_type.code())
                    .with_principal(s(&a.principal))
                    .with_host(s(&a.host))
                    .with_operation(a.operation.code())
                    .with_permission_type(a.permission_type.code())
            })
            .collect(),
    )
}

fn opt(v: &Option<String>) -> Option<StrBytes> {
    v.as_ref().map(|s| StrBytes::from_string(s.clone()))
}

/// Sets the filter fields a DescribeAcls request and a DeleteAcls filter share (two types in
/// `kafka-protocol` with the same setters) from an [`AclBindingFilter`].
macro_rules! with_filter {
    ($message:expr, $f:expr) => {
        $message
            .with_resource_type_filter($f.resource_type.code())
            .with_resource_name_filter(opt(&$f.resource_name))
            .with_pattern_type_filter($f.pattern_type.code())
            .with_principal_filter(opt(&$f.principal))
            .with_host_filter(opt(&$f.host))
            .with_operation($f.operation.code())
            .with_permission_type($f.permission_type.code())
    };
}

/// DescribeAcls for one filter.
pub fn describe_acls_request(f: &AclBindingFilter) -> DescribeAclsRequest {
    with_filter!(DescribeAclsRequest::default(), f)
}

/// DeleteAcls for `filters`.
pub fn delete_acls_request(filters: &[AclBindingFilter]) -> DeleteAclsRequest {
    DeleteAclsRequest::default().with_filters(
        filters
            .iter()
            .map(|f| with_filter!(DeleteAclsFilter::default(), f))
            .collect(),
    )
}

/// `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`.
pub fn pattern_text(kind: ResourceType, name: &str, pattern: PatternType) -> String {
    format!("ResourcePattern(resourceType={kind}, name={name}, patternType={pattern})")
}

/// `ResourcePatternFilter(resourceType=TOPIC, name=t, patternType=MATCH)`.
fn filter_text(f: &AclBindingFilter) -> String {
    format!(
        "ResourcePatternFilter(resourceType={}, name={}, patternType={})",
        f.resource_type,
        f.resource_name.as_deref().unwrap_or("<any>"),
        f.pattern_type
    )
}

/// `(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)`.
pub fn entry_text(
    principal: &str,
    host: &str,
    op: AclOperation,
    perm: AclPermissionType,
) -> String {
    format!("(principal={principal}, host={host}, operation={op}, permissionType={perm})")
}

/// One `kafka-acls` section: `{title} for resource \`{pattern}\`: `, then the entries, one a
/// line after a tab, then a blank line.
fn section(title: &str, pattern: &str, entries: &[String]) -> String {
    let lines: Vec<String> = entries.iter().map(|e| format!("\t{e}")).collect();
    format!(
        "{title} for resource `{pattern}`: \n {} \n\n",
        lines.join("\n")
    )
}

/// ACL entries grouped by resource pattern (by type code, name, pattern code), each set
/// holding (principal, entry text).
pub type AclsByResource = BTreeMap<(i8, String, i8), BTreeSet<(String, String)>>;

/// Collects DescribeAcls answers, checking their errors.
pub fn collect_acls(responses: &[DescribeAclsResponse]) -> Result<AclsByResource, AdminError> {
    let mut out = AclsByResource::new();
    for r in responses {
        AdminError::check(r.error_code, r.error_message.as_ref())?;
        for res in &r.resources {
            let key = (
                res.resource_type,
                res.resource_name.to_string(),
                res.pattern_type,
            );
            let set = out.entry(key).or_default();
            for a in &res.acls {
                set.insert((
                    a.principal.to_string(),
                    entry_text(
                        a.principal.as_str(),
                        a.host.as_str(),
                        AclOperation::from_code(a.operation),
                        AclPermissionType::from_code(a.permission_type),
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// `Current ACLs for resource ...` sections; with `principals`, a block per principal headed
/// `ACLs for principal \`P\`` holding only that principal's entries.
pub fn render_current(acls: &AclsByResource, principals: &[String]) -> String {
    let render = |only: Option<&str>| -> String {
        let mut out = String::new();
        for ((kind, name, pattern), entries) in acls {
            let shown: Vec<String> = entries
                .iter()
                .filter(|(p, _)| only.is_none_or(|o| o == p))
                .map(|(_, e)| e.clone())
                .collect();
            if shown.is_empty() && only.is_some() {
                continue;
            }
            let text = pattern_text(
                ResourceType::from_code(*kind),
                name,
                PatternType::from_code(*pattern),
            );
            out.push_str(&section("Current ACLs", &text, &shown));
        }
        out
    };
    if principals.is_empty() {
        return render(None);
    }
    principals
        .iter()
        .map(|p| format!("ACLs for principal `{p}`\n{}", render(Some(p))))
        .collect()
}

/// `Adding ACLs for resource ...` sections for the ACLs about to be created, by resource.
pub fn render_adding(acls: &[StandardAcl]) -> String {
    let mut by_resource: BTreeMap<(ResourceType, &str, PatternType), Vec<String>> = BTreeMap::new();
    for a in acls {
        by_resource
            .entry((a.resource_type, a.resource_name.as_str(), a.pattern_type))
            .or_default()
            .push(entry_text(
                &a.principal,
                &a.host,
                a.operation,
                a.permission_type,
            ));
    }
    by_resource
        .iter()
        .map(|((k, n, p), entries)| section("Adding ACLs", &pattern_text(*k, n, *p), entries))
        .collect()
}

/// What `remove` would delete, for the refusal without `--force`.
pub fn render_removal(filters: &[AclBindingFilter]) -> String {
    let mut out = String::new();
    for f in filters {
        let entry = match &f.principal {
            None => "every ACL".to_string(),
            Some(p) => entry_text(
                p,
                f.host.as_deref().unwrap_or("<any>"),
                f.operation,
                f.permission_type,
            ),
        };
        out.push_str(&format!("\t{entry} from `{}`\n", filter_text(f)));
    }
    out
}

/// Checks a CreateAcls answer: one result per creation, all without error.
pub fn check_created(response: &CreateAclsResponse, count: usize) -> Result<(), AdminError> {
    if response.results.len() != count {
        return Err(AdminError::Protocol(format!(
            "CreateAcls answered {} results for {count} ACLs",
            response.results.len()
        )));
    }
    for r in &response.results {
        AdminError::check(r.error_code, r.error_message.as_ref())?;
    }
    Ok(())
}

/// Checks a DeleteAcls answer: no filter and no matched ACL failed.
pub fn check_deleted(response: &DeleteAclsResponse) -> Result<(), AdminError> {
    for f in &response.filter_results {
        AdminError::check(f.error_code, f.error_message.as_ref())?;
        for m in &f.matching_acls {
            AdminError::check(m.error_code, m.error_message.as_ref())?;
        }
    }
    Ok(())
}

/// Runs `acls`.
pub fn run(args: AclsArgs) -> Result<ExitCode, String> {
    match block_on(execute(args)) {
        Ok(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(report(ERROR_PREFIX, &e)),
    }
}

async fn execute(args: AclsArgs) -> Result<String, AdminError> {
    match args.command {
        AclsCommand::Add { resources, entries } => {
            let acls = bindings_to_add(&resources, &entries)?;
            let mut session = ControllerSession::new(&args.connect)?;
            let (_, response) = session
                .call(CREATE_ACLS, |_| create_acls_request(&acls))
                .await?;
            check_created(&response, acls.len())?;
            let listed = list(&mut session, &filters_to_list(&resources), &[]).await?;
            Ok(format!("{}{listed}", render_adding(&acls)))
        }
        AclsCommand::List {
            resources,
            principal,
        } => {
            let principals: Vec<String> = principal
                .iter()
                .map(|p| parse_principal(p))
                .collect::<Result<_, _>>()
                .map_err(AdminError::Usage)?;
            let mut session = ControllerSession::new(&args.connect)?;
            list(&mut session, &filters_to_list(&resources), &principals).await
        }
        AclsCommand::Remove {
            resources,
            entries,
            force,
        } => {
            let filters = filters_to_remove(&resources, &entries)?;
            if !force {
                return Err(AdminError::Usage(format!(
                    "remove deletes ACLs only with --force (this tool does not ask for confirmation); it would remove:\n{}",
                    render_removal(&filters)
                )));
            }
            let mut session = ControllerSession::new(&args.connect)?;
            let (_, response) = session
                .call(DELETE_ACLS, |_| delete_acls_request(&filters))
                .await?;
            check_deleted(&response)?;
            list(&mut session, &filters_to_list(&resources), &[]).await
        }
    }
}

async fn list(
    session: &mut ControllerSession,
    filters: &[AclBindingFilter],
    principals: &[String],
) -> Result<String, AdminError> {
    let mut responses = Vec::with_capacity(filters.len());
    for f in filters {
        let (_, r) = session
            .call(DESCRIBE_ACLS, |_| describe_acls_request(f))
            .await?;
        responses.push(r);
    }
    Ok(render_current(&collect_acls(&responses)?, principals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::assert_encodes_in_range;
    use clap::Parser;
    use kafka_protocol::messages::create_acls_response::AclCreationResult;
    use kafka_protocol::messages::delete_acls_response::{
        DeleteAclsFilterResult, DeleteAclsMatchingAcl,
    };
    use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
    use kafka_protocol::messages::ApiKey;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use crate::fake_controller::{self, decode, respond, Script};

    /// `metaquorum acls --bootstrap-controller h:1 <args>` as clap parses it.
    fn parse(args: &[&str]) -> AclsArgs {
        parse_at("h:1", args)
    }

    fn parse_at(bootstrap: &str, args: &[&str]) -> AclsArgs {
        let argv = ["metaquorum", "acls", "--bootstrap-controller", bootstrap]
            .into_iter()
            .chain(args.iter().copied());
        match crate::Cli::try_parse_from(argv).unwrap().command {
            crate::Command::Acls(a) => a,
            other => panic!("parsed as {other:?}"),
        }
    }

    /// `acls add <line>`, the line split at white space.
    fn add(line: &str) -> Result<Vec<StandardAcl>, AdminError> {
        let mut argv = vec!["add"];
        argv.extend(line.split_whitespace());
        match parse(&argv).command {
            AclsCommand::Add { resources, entries } => bindings_to_add(&resources, &entries),
            other => panic!("parsed as {other:?}"),
        }
    }

    /// `acls remove <line>`, the line split at white space.
    fn remove_filters(line: &str) -> Result<Vec<AclBindingFilter>, AdminError> {
        let mut argv = vec!["remove"];
        argv.extend(line.split_whitespace());
        match parse(&argv).command {
            AclsCommand::Remove {
                resources, entries, ..
            } => filters_to_remove(&resources, &entries),
            other => panic!("parsed as {other:?}"),
        }
    }

    fn acl(
        kind: ResourceType,
        name: &str,
        pattern: PatternType,
        principal: &str,
        host: &str,
        operation: AclOperation,
        permission_type: AclPermissionType,
    ) -> StandardAcl {
        StandardAcl {
            resource_type: kind,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: principal.into(),
            host: host.into(),
            operation,
            permission_type,
        }
    }

    #[test]
    fn add_makes_every_entry_on_every_resource() {
        use AclOperation::*;
        let acls = add("--allow-principal User:alice --operation Read --operation describe_configs --topic t --group g")
        .unwrap();
        let t = |op| {
            acl(
                ResourceType::Topic,
                "t",
                PatternType::Literal,
                "User:alice",
                "*",
                op,
                AclPermissionType::Allow,
            )
        };
        let g = |op| StandardAcl {
            resource_type: ResourceType::Group,
            resource_name: "g".into(),
            ..t(op)
        };
        assert_eq!(
            acls,
            vec![t(Read), t(DescribeConfigs), g(Read), g(DescribeConfigs)]
        );
        let r = create_acls_request(&acls);
        assert_encodes_in_range(&r, CREATE_ACLS);
        let c = &r.creations[1];
        assert_eq!(
            (
                c.resource_type,
                c.resource_name.as_str(),
                c.resource_pattern_type,
                c.principal.as_str(),
                c.host.as_str(),
                c.operation,
                c.permission_type
            ),
            (2, "t", 3, "User:alice", "*", 10, 3)
        );
    }

    #[test]
    fn deny_entries_hosts_prefixes_and_the_default_operation() {
        let acls = add("--deny-principal User:bob --deny-host 10.0.0.1 --topic logs- --resource-pattern-type prefixed")
        .unwrap();
        assert_eq!(
            acls,
            vec![acl(
                ResourceType::Topic,
                "logs-",
                PatternType::Prefixed,
                "User:bob",
                "10.0.0.1",
                AclOperation::All,
                AclPermissionType::Deny
            )]
        );
        // The cluster is always the literal kafka-cluster.
        let acls = add("--allow-principal User:* --operation IdempotentWrite --cluster --transactional-id tx --operation write --resource-pattern-type prefixed");
        // IdempotentWrite does not apply to transactional ids.
        assert!(matches!(acls, Err(AdminError::Usage(m)) if m.contains("TRANSACTIONAL_ID")));
        let acls = add("--allow-principal User:* --operation IdempotentWrite --cluster").unwrap();
        assert_eq!(
            (
                acls[0].resource_type,
                acls[0].resource_name.as_str(),
                acls[0].pattern_type
            ),
            (ResourceType::Cluster, "kafka-cluster", PatternType::Literal)
        );
    }

    #[test]
    fn add_refuses_what_kafka_acls_refuses() {
        for bad in [
            "--topic t",
            "--allow-principal User:a",
            "--allow-principal alice --topic t",
            "--allow-principal User: --topic t",
            "--allow-host h --deny-principal User:a --topic t",
            "--allow-principal User:a --operation Fly --topic t",
            "--allow-principal User:a --operation ClusterAction --topic t",
            "--allow-principal User:a --topic t --resource-pattern-type match",
            "--allow-principal User:a --topic t --resource-pattern-type any",
        ] {
            assert!(
                matches!(add(bad), Err(AdminError::Usage(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn operation_names_in_any_case() {
        for (s, op) in [
            ("Read", AclOperation::Read),
            ("DESCRIBE_CONFIGS", AclOperation::DescribeConfigs),
            ("describeConfigs", AclOperation::DescribeConfigs),
            ("cluster-action", AclOperation::ClusterAction),
            ("all", AclOperation::All),
        ] {
            assert_eq!(parse_operation(s), Ok(op), "{s}");
        }
        assert!(parse_operation("any").is_err());
        assert!(parse_operation("unknown").is_err());
    }

    #[test]
    fn remove_without_principals_removes_every_acl_of_the_resource() {
        let f = remove_filters("--topic t").unwrap();
        assert_eq!(
            f,
            vec![AclBindingFilter {
                resource_type: ResourceType::Topic,
                resource_name: Some("t".into()),
                pattern_type: PatternType::Literal,
                ..AclBindingFilter::any()
            }]
        );
        let f = remove_filters(
            "--topic t --resource-pattern-type match --allow-principal User:a --operation Read",
        )
        .unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].pattern_type, PatternType::Match);
        assert_eq!(f[0].principal.as_deref(), Some("User:a"));
        assert_eq!(f[0].host.as_deref(), Some("*"));
        assert_eq!(f[0].operation, AclOperation::Read);
        assert_eq!(f[0].permission_type, AclPermissionType::Allow);
        let r = delete_acls_request(&f);
        assert_encodes_in_range(&r, DELETE_ACLS);
        assert_eq!(r.filters[0].pattern_type_filter, 2);
        assert!(remove_filters("--allow-principal User:a").is_err());
    }

    #[test]
    fn remove_requires_force_and_says_what_it_would_remove() {
        let args = parse(&["remove", "--topic", "t", "--allow-principal", "User:a"]);
        let err = crate::admin::block_on(execute(args)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("--force"), "{text}");
        assert!(text.contains("does not ask for confirmation"), "{text}");
        assert!(
            text.contains("\t(principal=User:a, host=*, operation=ALL, permissionType=ALLOW) from `ResourcePatternFilter(resourceType=TOPIC, name=t, patternType=LITERAL)`"),
            "{text}"
        );
    }

    #[test]
    fn list_filters_for_named_resources_or_everything() {
        let list = |args: &[&str]| {
            let mut argv = vec!["list"];
            argv.extend_from_slice(args);
            match parse(&argv).command {
                AclsCommand::List { resources, .. } => filters_to_list(&resources),
                other => panic!("parsed as {other:?}"),
            }
        };
        assert_eq!(list(&[]), vec![AclBindingFilter::any()]);
        let f = list(&["--topic", "t", "--resource-pattern-type", "any"]);
        assert_eq!(f[0].pattern_type, PatternType::Any);
        let r = describe_acls_request(&f[0]);
        assert_encodes_in_range(&r, DESCRIBE_ACLS);
        assert_eq!(
            (
                r.resource_type_filter,
                r.resource_name_filter.as_ref().map(|n| n.as_str()),
                r.pattern_type_filter,
                r.principal_filter.clone(),
                r.operation,
                r.permission_type
            ),
            (2, Some("t"), 1, None, 1, 1)
        );
    }

    fn described() -> DescribeAclsResponse {
        let entry = |p: &'static str, op: AclOperation| {
            AclDescription::default()
                .with_principal(StrBytes::from_static_str(p))
                .with_host(StrBytes::from_static_str("*"))
                .with_operation(op.code())
                .with_permission_type(AclPermissionType::Allow.code())
        };
        DescribeAclsResponse::default().with_resources(vec![
            DescribeAclsResource::default()
                .with_resource_type(ResourceType::Topic.code())
                .with_resource_name(StrBytes::from_static_str("t"))
                .with_pattern_type(PatternType::Literal.code())
                .with_acls(vec![
                    entry("User:bob", AclOperation::Write),
                    entry("User:alice", AclOperation::Read),
                ]),
            DescribeAclsResource::default()
                .with_resource_type(ResourceType::Cluster.code())
                .with_resource_name(StrBytes::from_static_str("kafka-cluster"))
                .with_pattern_type(PatternType::Literal.code())
                .with_acls(vec![entry("User:bob", AclOperation::ClusterAction)]),
        ])
    }

    // kafka-acls --list: per resource "Current ACLs for resource `...`: ", the entries after
    // " \t" and "\t", a trailing space, then a blank line.
    #[test]
    fn list_prints_kafka_acls_sections() {
        let acls = collect_acls(&[described()]).unwrap();
        assert_eq!(
            render_current(&acls, &[]),
            "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`: \n \
             \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)\n\
             \t(principal=User:bob, host=*, operation=WRITE, permissionType=ALLOW) \n\n\
             Current ACLs for resource `ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL)`: \n \
             \t(principal=User:bob, host=*, operation=CLUSTER_ACTION, permissionType=ALLOW) \n\n"
        );
        assert_eq!(
            render_current(&acls, &["User:alice".to_string()]),
            "ACLs for principal `User:alice`\n\
             Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`: \n \
             \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW) \n\n"
        );
        let failed =
            described()
                .with_error_code(54)
                .with_error_message(Some(StrBytes::from_static_str(
                    "No Authorizer is configured.",
                )));
        assert!(matches!(
            collect_acls(&[failed]),
            Err(AdminError::Kafka { code: 54, .. })
        ));
    }

    #[test]
    fn adding_sections_group_entries_by_resource() {
        let acls = add("--allow-principal User:a --operation Read --topic t").unwrap();
        assert_eq!(
            render_adding(&acls),
            "Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`: \n \
             \t(principal=User:a, host=*, operation=READ, permissionType=ALLOW) \n\n"
        );
    }

    #[test]
    fn create_and_delete_answers_are_checked() {
        let ok = CreateAclsResponse::default().with_results(vec![AclCreationResult::default()]);
        assert!(check_created(&ok, 1).is_ok());
        assert!(matches!(
            check_created(&ok, 2),
            Err(AdminError::Protocol(_))
        ));
        let bad = CreateAclsResponse::default()
            .with_results(vec![AclCreationResult::default().with_error_code(42)]);
        assert!(matches!(
            check_created(&bad, 1),
            Err(AdminError::Kafka { code: 42, .. })
        ));
        let deleted = DeleteAclsResponse::default()
            .with_filter_results(vec![DeleteAclsFilterResult::default().with_matching_acls(
                vec![DeleteAclsMatchingAcl::default().with_error_code(31)],
            )]);
        assert!(matches!(
            check_deleted(&deleted),
            Err(AdminError::Kafka { code: 31, .. })
        ));
        assert!(check_deleted(&DeleteAclsResponse::default()).is_ok());
    }

    // add over a socket: CreateAcls with every binding, then DescribeAcls for the resource.
    #[tokio::test]
    async fn add_creates_then_lists_the_resource() {
        let created = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&created);
        let script: Script = Arc::new(move |req| match req.api {
            ApiKey::CreateAcls => {
                let r: CreateAclsRequest = decode(req);
                count.fetch_add(r.creations.len(), Ordering::SeqCst);
                let results = r
                    .creations
                    .iter()
                    .map(|_| AclCreationResult::default())
                    .collect();
                respond(req, &CreateAclsResponse::default().with_results(results))
            }
            _ => {
                let r: DescribeAclsRequest = decode(req);
                assert_eq!(
                    r.resource_name_filter.as_ref().map(|n| n.as_str()),
                    Some("t")
                );
                respond(req, &described())
            }
        });
        let fake = fake_controller::start(
            fake_controller::listener().await,
            &[(ApiKey::CreateAcls, 3), (ApiKey::DescribeAcls, 3)],
            script,
        );
        let args = parse_at(
            &fake.addr,
            &[
                "add",
                "--allow-principal",
                "User:alice",
                "--operation",
                "Read",
                "--topic",
                "t",
            ],
        );
        let text = execute(args).await.unwrap();
        assert_eq!(created.load(Ordering::SeqCst), 1);
        assert!(
            text.starts_with("Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`: \n \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW) \n\nCurrent ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`: \n"),
            "{text}"
        );
    }
}
