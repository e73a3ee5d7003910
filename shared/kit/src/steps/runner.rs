//! Executing runs: the steps in order through the execution router, progress stored around each,
//! the lease renewed meanwhile, and lapsed runs of other replicas taken over.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use spot_bus::SharedBus;
use spot_config::ServiceName;
use spot_db::DbError;
use spot_proto::agent::v1::{Action, ActionKind};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::execution_service_client::ExecutionServiceClient;
use spot_proto::cluster::v1::fleet_service_client::FleetServiceClient;
use spot_proto::common::v1::{Pool, Taint};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::model::{Run, RunState, StepKind, StepStatus};
use super::store::RunStore;
use crate::topics::{CLUSTER_ACTIONS, CLUSTER_UPDATED};
use crate::{OutgoingChannel, ServiceContext};

type Router = ExecutionServiceClient<OutgoingChannel>;

/// A kind of multi-step work: how its runs show in its own records.
#[async_trait::async_trait]
pub trait Workflow: Send + Sync + 'static {
    /// The name its runs are stored under; only runners of this workflow take them up.
    fn name(&self) -> &'static str;

    /// The run moved on (a step started or ended, or the run ended): reflect it in the
    /// workflow's own records. Called again for the same state after a takeover: idempotent.
    async fn progressed(&self, run: &Run);

    /// The run reached its final state (after [`Workflow::progressed`]). A crash right here calls
    /// it again on the replica that takes the run over.
    async fn finished(&self, _run: &Run) {}
}

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// How long a run's lease lasts without renewal: a dead holder's runs resume about this long
    /// after it stopped. Renewed every third of it.
    pub lease: Duration,
    /// How often the sweeper looks for lapsed leases.
    pub sweep_every: Duration,
    /// How long new nodes may take to join and become ready.
    pub ready_timeout: Duration,
    /// The fallback look at the cluster while waiting for nodes, should an update be lost.
    pub ready_poll: Duration,
    /// Beyond an action's own deadline, how long to wait for its result.
    pub result_grace: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(15),
            sweep_every: Duration::from_secs(5),
            ready_timeout: Duration::from_secs(600),
            ready_poll: Duration::from_secs(30),
            result_grace: Duration::from_secs(60),
        }
    }
}

impl RunnerSettings {
    /// The defaults with the deployment's lease (`limits.lease_seconds`); the sweeper
    /// looks for lapsed leases every third of it.
    pub fn with_lease(self, lease: Duration) -> Self {
        Self {
            lease,
            sweep_every: lease / 3,
            ..self
        }
    }
}

/// How long a step the execution router could not carry out for a passing reason (a replica
/// away, the database or the bus cut off) is tried again before it fails.
const RETRY_STEP_FOR: Duration = Duration::from_secs(30);

/// An answer from the execution router that may change on its own: the same call again may
/// succeed.
fn transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::Internal
            | tonic::Code::Unknown
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Aborted
            | tonic::Code::ResourceExhausted
    )
}

/// How a step ended when it did not succeed.
enum StepEnd {
    Refused(String),
    Failed(String),
}

/// The run can no longer be advanced by this runner: its lease is gone (another replica has it)
/// or the process is stopping. Nothing is marked: whoever holds the run next resumes it.
struct Stopped;

enum Halt {
    Step(StepEnd),
    Stopped,
}

impl From<Stopped> for Halt {
    fn from(_: Stopped) -> Self {
        Halt::Stopped
    }
}

impl From<StepEnd> for Halt {
    fn from(end: StepEnd) -> Self {
        Halt::Step(end)
    }
}

/// The steps after the one that ended the run early are skipped.
fn skip_after(run: &mut Run, index: usize) {
    for rest in run.steps.iter_mut().skip(index + 1) {
        if matches!(rest.status, StepStatus::Pending | StepStatus::Running) {
            rest.status = StepStatus::Skipped;
        }
    }
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Sleeps until `at`; never wakes without one.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Runs one workflow's runs; one per workflow and process. Cheap to clone.
#[derive(Clone)]
pub struct StepRunner {
    inner: Arc<Inner>,
}

struct Inner {
    store: RunStore,
    bus: SharedBus,
    ctx: ServiceContext,
    workflow: Arc<dyn Workflow>,
    /// This runner's name on the leases it holds: unique per process start.
    holder: String,
    settings: RunnerSettings,
    /// Stops every run this runner executes, without touching them (as a crash would).
    stop: CancellationToken,
    /// The runs this runner executes now: its own sweeper, taking back a run whose lease lapsed
    /// while the database was away, must not start a second execution beside the first.
    active: std::sync::Mutex<HashSet<String>>,
}

impl StepRunner {
    /// A runner of the workflow's runs in this process; it stops with the process.
    pub fn new(
        ctx: &ServiceContext,
        workflow: Arc<dyn Workflow>,
        settings: RunnerSettings,
    ) -> Self {
        let holder = format!(
            "{}-{}-{}",
            workflow.name(),
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        );
        Self {
            inner: Arc::new(Inner {
                store: RunStore::new(ctx.db.clone()),
                bus: ctx.bus.clone(),
                ctx: ctx.clone(),
                workflow,
                holder,
                settings,
                stop: ctx.shutdown.child_token(),
                active: std::sync::Mutex::default(),
            }),
        }
    }

    pub fn holder(&self) -> &str {
        &self.inner.holder
    }

    pub fn store(&self) -> &RunStore {
        &self.inner.store
    }

    /// Stops executing, leaving every run as it is (its lease lapses; another runner resumes it).
    pub fn stop(&self) {
        self.inner.stop.cancel();
    }

    /// Stores the run and starts executing it; the receiver gets the run once it is final here
    /// (nothing, when this runner stopped before: then another replica finishes it).
    pub async fn start(&self, mut run: Run) -> Result<oneshot::Receiver<Run>, DbError> {
        run.workflow = self.inner.workflow.name().to_owned();
        let now = now_millis();
        self.inner
            .store
            .insert(&run, &self.inner.holder, self.lease_until(), now)
            .await?;
        let (done, finished) = oneshot::channel();
        self.spawn(run, Some(done));
        Ok(finished)
    }

    /// Runs the sweeper until the process stops: every `sweep_every`, takes over the workflow's
    /// runs whose lease lapsed, and resumes them.
    pub fn spawn_sweeper(&self) {
        let runner = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(runner.inner.settings.sweep_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = runner.inner.stop.cancelled() => return,
                    _ = tick.tick() => { runner.sweep().await; }
                }
            }
        });
    }

    /// Takes over lapsed runs now; how many.
    pub async fn sweep(&self) -> usize {
        let claimed = match self
            .inner
            .store
            .claim_lapsed(
                self.inner.workflow.name(),
                &self.inner.holder,
                self.lease_until(),
                now_millis(),
            )
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "lapsed step runs not checked");
                return 0;
            }
        };
        let count = claimed.len();
        for run in claimed {
            tracing::info!(run = %run.id, workflow = %run.workflow, "resuming a run whose runner stopped");
            self.spawn(run, None);
        }
        count
    }

    /// The workflow's unfinished runs of the cluster, on any replica.
    pub async fn unfinished(&self, cluster_id: &str) -> Result<Vec<Run>, DbError> {
        self.inner
            .store
            .unfinished(self.inner.workflow.name(), cluster_id)
            .await
    }

    fn lease_until(&self) -> i64 {
        now_millis() + millis(self.inner.settings.lease)
    }

    fn spawn(&self, run: Run, done: Option<oneshot::Sender<Run>>) {
        let id = run.id.clone();
        if !self.active().insert(id.clone()) {
            // Already executing here; the claim only renewed its lease.
            return;
        }
        let runner = self.clone();
        tokio::spawn(async move {
            let finished = runner.execute(run).await;
            runner.active().remove(&id);
            if let Some(run) = finished
                && let Some(done) = done
            {
                let _ = done.send(run);
            }
        });
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.inner
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Executes the run to its end while this runner holds it; the final run, or nothing when
    /// it stopped first.
    async fn execute(&self, mut run: Run) -> Option<Run> {
        let lost = self.inner.stop.child_token();
        let renewal = self.spawn_renewal(&run.id, lost.clone());
        let outcome = tokio::select! {
            _ = lost.cancelled() => Err(Stopped),
            outcome = self.drive(&mut run, &lost) => outcome,
        };
        renewal.cancel();
        match outcome {
            Ok(()) => Some(run),
            Err(Stopped) => {
                tracing::info!(run = %run.id, "step run left to the next holder");
                None
            }
        }
    }

    /// Renews the run's lease every third of it until `done`; cancels `lost` when it is gone.
    fn spawn_renewal(&self, id: &str, lost: CancellationToken) -> CancellationToken {
        let done = CancellationToken::new();
        let runner = self.clone();
        let id = id.to_owned();
        let stop = done.clone();
        tokio::spawn(async move {
            let every = runner.inner.settings.lease / 3;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = lost.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                match runner
                    .inner
                    .store
                    .renew(&id, &runner.inner.holder, runner.lease_until())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        if !stop.is_cancelled() {
                            tracing::warn!(run = %id, "step run lease lost: another runner has it");
                            lost.cancel();
                        }
                        return;
                    }
                    // The database may be back before the lease lapses; if not, a write fails.
                    Err(error) => tracing::warn!(%error, run = %id, "step run lease not renewed"),
                }
            }
        });
        done
    }

    /// Stores the run's progress under this runner's lease, then shows it in the workflow's
    /// records. `done`: the run is over for the store too (its lease is given up).
    async fn save(&self, run: &Run, done: bool) -> Result<(), Stopped> {
        let mut delay = Duration::from_millis(250);
        // Final for the workflow is not yet final for the store: the row stays open (and is
        // taken over after a crash) until the workflow's hooks ran.
        let row_state = if done { run.state } else { RunState::Running };
        loop {
            match self
                .inner
                .store
                .save(
                    run,
                    row_state,
                    &self.inner.holder,
                    self.lease_until(),
                    now_millis(),
                )
                .await
            {
                Ok(true) => break,
                Ok(false) => return Err(Stopped),
                Err(error) => {
                    // The database is away: wait for it (the lease lapses if it stays away).
                    tracing::warn!(%error, run = %run.id, "step run progress not stored; retrying");
                    tokio::select! {
                        _ = self.inner.stop.cancelled() => return Err(Stopped),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        if !done {
            self.inner.workflow.progressed(run).await;
        }
        Ok(())
    }

    async fn drive(&self, run: &mut Run, lost: &CancellationToken) -> Result<(), Stopped> {
        // After a takeover, the workflow's records catch up with what the last holder stored.
        self.inner.workflow.progressed(run).await;
        if !run.state.is_final() {
            let ending = match self.run_steps(run, lost).await? {
                None => RunState::Succeeded,
                Some(ending) => {
                    // The run shows as ended only once its clean-up is done too.
                    if run.release_on_failure {
                        run.ending = Some(ending);
                        self.release_leftovers(run).await?;
                    }
                    ending
                }
            };
            run.state = ending;
            self.save(run, false).await?;
        }
        self.inner.workflow.finished(run).await;
        self.save(run, true).await
    }

    /// Runs every step not yet final; how the run ends when a step ended it early.
    async fn run_steps(
        &self,
        run: &mut Run,
        lost: &CancellationToken,
    ) -> Result<Option<RunState>, Stopped> {
        // A launch that failed in a run that goes on without it.
        let gone_on = |run: &Run, index: usize| {
            run.interrupted
                && run.steps[index].status == StepStatus::Failed
                && matches!(run.steps[index].kind, StepKind::Launch { .. })
        };
        for index in 0..run.steps.len() {
            if matches!(
                run.steps[index].status,
                StepStatus::Succeeded | StepStatus::Skipped
            ) || gone_on(run, index)
            {
                continue;
            }
            if run.steps[index].status == StepStatus::Failed {
                // Stored failed (its clean-up was under way), but the run's end was not.
                let ending = run.ending.unwrap_or(RunState::Failed);
                skip_after(run, index);
                return Ok(Some(ending));
            }
            if lost.is_cancelled() {
                return Err(Stopped);
            }
            if about_to_take_away(run)
                && let Some(reason) = self.cannot_launch(run).await?
            {
                run.steps[index].status = StepStatus::Failed;
                run.steps[index].message = format!("refused: {reason}");
                skip_after(run, index);
                return Ok(Some(RunState::Refused));
            }
            run.steps[index].status = StepStatus::Running;
            run.steps[index].attempts += 1;
            self.save(run, false).await?;
            match self.step(run, index).await {
                Ok(message) => {
                    run.steps[index].status = StepStatus::Succeeded;
                    run.steps[index].message = message;
                    self.save(run, false).await?;
                }
                Err(Halt::Stopped) => return Err(Stopped),
                Err(Halt::Step(end)) => {
                    let (ending, reason) = match end {
                        StepEnd::Refused(reason) => (RunState::Refused, reason),
                        StepEnd::Failed(reason) => (RunState::Failed, reason),
                    };
                    run.steps[index].status = StepStatus::Failed;
                    run.steps[index].message = reason;
                    if gone_on(run, index) {
                        self.save(run, false).await?;
                        continue;
                    }
                    skip_after(run, index);
                    return Ok(Some(ending));
                }
            }
        }
        let launch_failed = (0..run.steps.len()).any(|index| gone_on(run, index));
        Ok(launch_failed.then_some(RunState::Failed))
    }

    /// After a failure: terminates what the run launched that never joined, as one more step.
    async fn release_leftovers(&self, run: &mut Run) -> Result<(), Stopped> {
        let already = run
            .steps
            .last()
            .is_some_and(|s| matches!(s.kind, StepKind::Release { .. }) && s.attempts > 0);
        if !already {
            let launched = run.launched();
            if launched.is_empty() {
                return Ok(());
            }
            let Ok(state) = self.cluster_state(&run.cluster_id).await else {
                return Ok(());
            };
            let leftovers: Vec<String> = launched
                .into_iter()
                .filter(|id| !state.nodes.iter().any(|n| &n.instance_id == id))
                .collect();
            if leftovers.is_empty() {
                return Ok(());
            }
            run.push(StepKind::Release {
                instance_ids: leftovers,
            });
        }
        let index = run.steps.len() - 1;
        if matches!(
            run.steps[index].status,
            StepStatus::Succeeded | StepStatus::Failed
        ) {
            return Ok(());
        }
        run.steps[index].status = StepStatus::Running;
        run.steps[index].attempts += 1;
        self.save(run, false).await?;
        let (status, message) = match self.step(run, index).await {
            Ok(message) => (StepStatus::Succeeded, message),
            Err(Halt::Stopped) => return Err(Stopped),
            Err(Halt::Step(StepEnd::Refused(reason) | StepEnd::Failed(reason))) => {
                (StepStatus::Failed, reason)
            }
        };
        run.steps[index].status = status;
        run.steps[index].message = message;
        Ok(())
    }

    fn router(&self) -> Result<Router, StepEnd> {
        self.inner
            .ctx
            .clients
            .channel(ServiceName::Cluster)
            .map(ExecutionServiceClient::new)
            .ok_or_else(|| StepEnd::Failed("the cluster service is not reachable".to_owned()))
    }

    /// One call to the router, tried again a few times while the cluster service is away.
    async fn execute_step(
        &self,
        run: &Run,
        step: cluster::execute_step_request::Step,
    ) -> Result<cluster::ExecuteStepResponse, Halt> {
        let mut router = self.router()?;
        let request = cluster::ExecuteStepRequest {
            cluster_id: run.cluster_id.clone(),
            plan_id: run.id.clone(),
            step: Some(step),
        };
        let mut delay = Duration::from_millis(500);
        let give_up_at = tokio::time::Instant::now() + RETRY_STEP_FOR;
        let response = loop {
            match router.execute_step(request.clone()).await {
                Ok(response) => break response.into_inner(),
                // Safe to repeat: launches carry their token, actions their id. A step whose
                // router was away or lost its database for a moment may have acted all the same
                // (a launch whose instances were not yet recorded): it is repeated, not failed.
                Err(status)
                    if transient(&status) && tokio::time::Instant::now() + delay < give_up_at =>
                {
                    tracing::warn!(%status, run = %run.id, "the step could not be carried out now; retrying");
                    tokio::select! {
                        _ = self.inner.stop.cancelled() => return Err(Halt::Stopped),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(status) => {
                    return Err(StepEnd::Failed(status.message().to_owned()).into());
                }
            }
        };
        if response.outcome() == cluster::ExecutionOutcome::Refused {
            return Err(StepEnd::Refused(response.reason).into());
        }
        Ok(response)
    }

    async fn cluster_state(
        &self,
        cluster_id: &str,
    ) -> Result<cluster::GetClusterStateResponse, StepEnd> {
        let channel = self
            .inner
            .ctx
            .clients
            .channel(ServiceName::Cluster)
            .ok_or_else(|| StepEnd::Failed("the cluster service is not reachable".to_owned()))?;
        FleetServiceClient::new(channel)
            .get_cluster_state(cluster::GetClusterStateRequest {
                cluster_id: cluster_id.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| StepEnd::Failed(status.message().to_owned()))
    }

    /// Why the cluster could not launch nodes again, if so: then nothing may be taken away.
    async fn cannot_launch(&self, run: &Run) -> Result<Option<String>, Stopped> {
        let Ok(mut router) = self.router() else {
            return Ok(Some(
                "the cluster service could not be reached to check that the cluster can launch nodes"
                    .to_owned(),
            ));
        };
        let checked = router
            .check_can_launch(cluster::CheckCanLaunchRequest {
                cluster_id: run.cluster_id.clone(),
            })
            .await;
        Ok(match checked {
            Ok(response) => {
                let response = response.into_inner();
                (!response.can_launch).then_some(response.reason)
            }
            Err(status) => Some(format!(
                "whether the cluster can launch nodes could not be checked: {}",
                status.message()
            )),
        })
    }

    /// Runs one step; what it did.
    async fn step(&self, run: &mut Run, index: usize) -> Result<String, Halt> {
        use cluster::execute_step_request::Step as Call;
        let kind = run.steps[index].kind.clone();
        match kind {
            StepKind::Launch {
                pools,
                capacity_type,
                count,
            } => {
                let launch = cluster::LaunchCapacity {
                    pools: pools
                        .iter()
                        .map(|p| Pool {
                            region: String::new(),
                            zone: p.zone.clone(),
                            instance_type: p.instance_type.clone(),
                        })
                        .collect(),
                    capacity_type,
                    count,
                    client_token: run.steps[index].id.clone(),
                };
                let response = self.execute_step(run, Call::Launch(launch)).await?;
                let got = response.instance_ids.len();
                let mut message = format!("launched {got} of {count}");
                if got > 0 {
                    message = format!("{message}: {}", response.instance_ids.join(", "));
                }
                run.steps[index].instance_ids = response.instance_ids;
                // Draining onto part of the planned capacity could leave pods pending.
                if got < count as usize {
                    let why = if response.reason.is_empty() {
                        "the pool had no more capacity".to_owned()
                    } else {
                        response.reason.clone()
                    };
                    return Err(
                        StepEnd::Failed(format!("{message} ({why}); the rest is skipped")).into(),
                    );
                }
                Ok(message)
            }
            StepKind::WaitReady {
                setup,
                go_ahead_at_millis,
            } => {
                let wanted = run.launched().len();
                let nodes = self.wait_ready(run, go_ahead_at_millis).await?;
                let ready = nodes.len();
                self.set_up(run, index, &setup, &nodes).await?;
                if ready < wanted {
                    Ok(format!(
                        "{ready} of {wanted} new nodes ready at the go-ahead time: going ahead"
                    ))
                } else {
                    Ok(format!("{ready} new nodes ready"))
                }
            }
            StepKind::Cordon { node } => {
                self.agent_action(
                    run,
                    index,
                    "cordon",
                    ActionKind::Cordon,
                    &node,
                    Action::default(),
                )
                .await
            }
            StepKind::Drain { node } => {
                self.agent_action(
                    run,
                    index,
                    "drain",
                    ActionKind::Drain,
                    &node,
                    Action::default(),
                )
                .await
            }
            StepKind::Terminate { node } => {
                if run.steps[index].instance_ids.is_empty() {
                    let state = self.cluster_state(&run.cluster_id).await?;
                    let instance_id = state
                        .nodes
                        .iter()
                        .find(|n| n.name == node)
                        .map(|n| n.instance_id.clone())
                        .filter(|id| !id.is_empty())
                        .ok_or_else(|| {
                            StepEnd::Failed(format!("node {node} has no known instance id"))
                        })?;
                    // Kept before the call: after a crash, the node may be gone from the
                    // cluster's state, but the instance to terminate is known.
                    run.steps[index].instance_ids = vec![instance_id];
                    self.save(run, false).await?;
                }
                let response = self
                    .execute_step(
                        run,
                        Call::Terminate(cluster::TerminateInstances {
                            instance_ids: run.steps[index].instance_ids.clone(),
                        }),
                    )
                    .await?;
                Ok(format!("terminated {}", response.instance_ids.join(", ")))
            }
            StepKind::Release { instance_ids } => {
                run.steps[index].instance_ids.clone_from(&instance_ids);
                // One that joined meanwhile is a node now, and pods may run on it: it stays.
                let state = self.cluster_state(&run.cluster_id).await?;
                let gone: Vec<String> = instance_ids
                    .iter()
                    .filter(|id| !state.nodes.iter().any(|n| &n.instance_id == *id))
                    .cloned()
                    .collect();
                if gone.is_empty() {
                    return Ok("every instance joined meanwhile; nothing released".to_owned());
                }
                let response = self
                    .execute_step(
                        run,
                        Call::Terminate(cluster::TerminateInstances { instance_ids: gone }),
                    )
                    .await?;
                Ok(format!(
                    "terminated {} launched instances that never joined: {}",
                    response.instance_ids.len(),
                    response.instance_ids.join(", ")
                ))
            }
            StepKind::Invalid { reason } => Err(StepEnd::Failed(reason).into()),
        }
    }

    /// Waits until every instance the run launched is a ready node of the cluster, or until
    /// `go_ahead_at_millis`; the nodes ready then. Wakes on each update of the cluster on the bus,
    /// and looks anyway every `ready_poll`.
    async fn wait_ready(
        &self,
        run: &Run,
        go_ahead_at_millis: Option<i64>,
    ) -> Result<Vec<spot_proto::common::v1::Node>, Halt> {
        let launched = run.launched();
        let wanted: HashSet<&str> = launched.iter().map(String::as_str).collect();
        // Subscribe first, so an update between the look and the wait is not missed.
        let mut updates = match CLUSTER_UPDATED.subscribe(self.inner.bus.as_ref()).await {
            Ok(updates) => Some(updates),
            Err(error) => {
                tracing::warn!(%error, "cluster updates unavailable; polling for new nodes");
                None
            }
        };
        let deadline = tokio::time::Instant::now() + self.inner.settings.ready_timeout;
        let go_ahead = go_ahead_at_millis.map(|at| {
            let wait = u64::try_from(at - now_millis()).unwrap_or(0);
            tokio::time::Instant::now() + Duration::from_millis(wait)
        });
        loop {
            let state = self.cluster_state(&run.cluster_id).await?;
            let ready: Vec<_> = state
                .nodes
                .into_iter()
                .filter(|n| n.ready && wanted.contains(n.instance_id.as_str()))
                .collect();
            let gone_ahead = go_ahead.is_some_and(|at| tokio::time::Instant::now() >= at);
            if ready.len() >= wanted.len() || gone_ahead {
                return Ok(ready);
            }
            let poll = tokio::time::sleep(self.inner.settings.ready_poll);
            let this_cluster = async {
                match updates.as_mut() {
                    Some(updates) => {
                        while let Some(update) = updates.next().await {
                            if update.cluster_id == run.cluster_id {
                                return;
                            }
                        }
                        // The subscription ended: only the poll is left.
                        std::future::pending::<()>().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = self.inner.stop.cancelled() => return Err(Halt::Stopped),
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(StepEnd::Failed(format!(
                        "{} of {} new nodes became ready within {} minutes",
                        ready.len(),
                        wanted.len(),
                        self.inner.settings.ready_timeout.as_secs() / 60
                    ))
                    .into());
                }
                _ = poll => {}
                _ = this_cluster => {}
                _ = sleep_until_some(go_ahead) => {}
            }
        }
    }

    /// Puts on each new node the labels and taints of its pool's set-up, before any pod moves
    /// to it.
    async fn set_up(
        &self,
        run: &mut Run,
        index: usize,
        setup: &[super::NodeSetup],
        nodes: &[spot_proto::common::v1::Node],
    ) -> Result<(), Halt> {
        for node in nodes {
            let launched_by = run.steps.iter().position(|s| {
                matches!(s.kind, StepKind::Launch { .. })
                    && s.instance_ids.contains(&node.instance_id)
            });
            let Some(found) = setup.iter().find(|s| Some(s.launch_step) == launched_by) else {
                continue;
            };
            if !found.labels.is_empty() {
                let action = Action {
                    labels: found.labels.clone().into_iter().collect(),
                    ..Default::default()
                };
                let key = format!("label/{}", node.name);
                self.agent_action(run, index, &key, ActionKind::Label, &node.name, action)
                    .await?;
            }
            if !found.taints.is_empty() {
                let action = Action {
                    taints: found
                        .taints
                        .iter()
                        .map(|(key, value, effect)| Taint {
                            key: key.clone(),
                            value: value.clone(),
                            effect: *effect,
                        })
                        .collect(),
                    ..Default::default()
                };
                let key = format!("taint/{}", node.name);
                self.agent_action(run, index, &key, ActionKind::Taint, &node.name, action)
                    .await?;
            }
        }
        Ok(())
    }

    /// Sends an agent action through the router and waits for the agent's result. The action's
    /// id is chosen and stored before its first send, and reused by every retry of the step.
    async fn agent_action(
        &self,
        run: &mut Run,
        index: usize,
        key: &str,
        kind: ActionKind,
        node: &str,
        mut action: Action,
    ) -> Result<String, Halt> {
        let id = match run.steps[index].action_ids.get(key) {
            Some(id) => id.clone(),
            None => {
                let id = uuid::Uuid::now_v7().simple().to_string();
                run.steps[index]
                    .action_ids
                    .insert(key.to_owned(), id.clone());
                self.save(run, false).await?;
                id
            }
        };
        action.id = id.clone();
        action.kind = kind.into();
        action.node_name = node.to_owned();
        let what = format!(
            "{} of {node}",
            kind.as_str_name()
                .trim_start_matches("ACTION_KIND_")
                .to_lowercase()
        );
        // Subscribe first, so the result cannot arrive before we listen.
        let mut changes = CLUSTER_ACTIONS
            .subscribe(self.inner.bus.as_ref())
            .await
            .map_err(|e| StepEnd::Failed(e.to_string()))?;
        let response = self
            .execute_step(run, cluster::execute_step_request::Step::Action(action))
            .await?;
        let record = response
            .action
            .ok_or_else(|| StepEnd::Failed("the router stored no action".to_owned()))?;
        let done = |update: &cluster::ActionRecord| -> Option<Result<String, Halt>> {
            match update.status() {
                cluster::ActionStatus::Succeeded => Some(Ok(format!("{what} done"))),
                cluster::ActionStatus::Failed
                | cluster::ActionStatus::TimedOut
                | cluster::ActionStatus::Refused => {
                    Some(Err(
                        StepEnd::Failed(format!("{what}: {}", update.message)).into()
                    ))
                }
                _ => None,
            }
        };
        // A retried step finds its action as it went: maybe finished long ago.
        if let Some(result) = done(&record) {
            return result;
        }
        let deadline = record
            .action
            .as_ref()
            .and_then(|a| a.deadline.as_ref())
            .map(spot_proto::time::millis)
            .unwrap_or_default();
        let wait = Duration::from_millis(u64::try_from(deadline - now_millis()).unwrap_or(0))
            + self.inner.settings.result_grace;
        let result = async {
            while let Some(update) = changes.next().await {
                if update.action.as_ref().is_none_or(|a| a.id != id) {
                    continue;
                }
                if let Some(result) = done(&update) {
                    return result;
                }
            }
            Err(StepEnd::Failed("the action updates stopped".to_owned()).into())
        };
        tokio::select! {
            _ = self.inner.stop.cancelled() => Err(Halt::Stopped),
            _ = tokio::time::sleep(wait) => Err(StepEnd::Failed(format!("no result for the {what} in time")).into()),
            result = result => result,
        }
    }
}

/// Whether the run is about to start and will terminate a node: the moment to check that what
/// it takes away could be brought back, before it changes anything. (An interruption's response
/// takes away only what AWS takes anyway: it is never held back.)
fn about_to_take_away(run: &Run) -> bool {
    !run.interrupted
        && run.steps.iter().all(|s| s.attempts == 0)
        && run
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::Terminate { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A consolidation that terminates nodes first checks the cluster could launch them again;
    /// an interruption's response is never held back by that check: AWS takes its nodes anyway.
    #[test]
    fn only_voluntary_runs_check_that_what_they_take_away_could_come_back() {
        let steps = || {
            vec![
                StepKind::Cordon { node: "n1".into() },
                StepKind::Drain { node: "n1".into() },
                StepKind::Terminate { node: "n1".into() },
            ]
        };
        let consolidation = Run::new("plan", "p1", "t", "c", steps());
        assert!(about_to_take_away(&consolidation));
        let mut response = Run::new("plan", "p2", "t", "c", steps());
        response.interrupted = true;
        assert!(!about_to_take_away(&response));
    }
}
