//! Three replicas in one process, each on its own database and replication listener, talking
//! real HTTP over loopback: election, replication, a forwarded write, and a partitioned leader
//! replaced without a false success or a lost committed command.

use std::{sync::Arc, time::Duration};

use openraft::{
    Config,
    error::{ClientWriteError, RaftError},
};
use ordo_replica::{
    Command, CommandResult, Faults, HttpNetwork, LogStore, NodeId, Raft, node_at, router, serve,
    testing::{self, MemoryMachine},
};
use ordo_storage::Storage;

const SECRET: &str = "test-secret";
const WAIT: Duration = Duration::from_secs(20);

struct Replica {
    id: NodeId,
    raft: Raft,
    machine: MemoryMachine,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn start(id: NodeId, faults: &Faults) -> Fallible<Replica> {
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = Config {
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        ..Config::default()
    };
    let secret: Arc<str> = SECRET.into();
    let machine = MemoryMachine::default();
    let raft = Raft::new(
        id,
        Arc::new(config.validate()?),
        HttpNetwork::new(id, secret.clone(), faults.clone()),
        LogStore::new(storage.clone()),
        machine.clone(),
    )
    .await?;
    tokio::spawn(serve(
        listener,
        router(
            raft.clone(),
            Default::default(),
            storage,
            Default::default(),
            id,
            secret,
            faults.clone(),
        ),
    ));
    Ok(Replica {
        id,
        raft,
        machine,
        addr,
        _dir: dir,
    })
}

fn txs(tag: &str) -> Command {
    Command::Txs(vec![(
        tag.as_bytes().to_vec().into(),
        alloy_primitives::Address::ZERO,
    )])
}

/// Forms the group of `replicas`, all voters.
async fn form(replicas: &[Replica]) {
    let members: Vec<_> = replicas.iter().map(|r| (r.id, &r.raft, r.addr)).collect();
    if let Err(e) = testing::form_group(&members).await {
        panic!("forming the group: {e}");
    }
}

/// Waits until some replica other than `not` leads.
async fn leader_among(replicas: &[&Replica], not: Option<NodeId>) -> NodeId {
    let rafts: Vec<&Raft> = replicas.iter().map(|r| &r.raft).collect();
    match testing::leader_among(&rafts, not, WAIT).await {
        Some(id) => id,
        None => panic!("no leader elected"),
    }
}

async fn wait_commands(replica: &Replica, want: &[Command]) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got: Vec<Command> = replica
            .machine
            .commands()
            .await
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica {} applied {got:?}, want {want:?}",
            replica.id
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_elect_replicate_forward_and_replace_a_partitioned_leader() {
    let faults = Faults::default();
    let replicas = vec![
        start(1, &faults).await.unwrap(),
        start(2, &faults).await.unwrap(),
        start(3, &faults).await.unwrap(),
    ];
    let ids: Vec<NodeId> = replicas.iter().map(|r| r.id).collect();
    form(&replicas).await;
    let all: Vec<&Replica> = replicas.iter().collect();
    let by_id = |id: NodeId| replicas.iter().find(|r| r.id == id).unwrap();

    // A write on the leader is committed and applied everywhere.
    let leader = leader_among(&all, None).await;
    let written = by_id(leader).raft.client_write(txs("a")).await.unwrap();
    assert_eq!(written.data, CommandResult::Applied);
    for r in &replicas {
        wait_commands(r, &[txs("a")]).await;
    }

    // A follower does not write: it names the leader, for the caller to forward to.
    let follower = ids.iter().copied().find(|&id| id != leader).unwrap();
    match by_id(follower).raft.client_write(txs("x")).await {
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(to))) => {
            assert_eq!(to.leader_id, Some(leader));
            assert_eq!(
                to.leader_node,
                Some(node_at(by_id(leader).addr, by_id(leader).addr))
            );
        }
        other => panic!("a follower's write answered {other:?}"),
    }

    // The leader is cut off: the other two elect one of themselves and go on.
    faults.isolate(leader, &ids);
    let rest: Vec<&Replica> = replicas.iter().filter(|r| r.id != leader).collect();
    let new_leader = leader_among(&rest, Some(leader)).await;
    assert_ne!(new_leader, leader);
    let written = by_id(new_leader).raft.client_write(txs("b")).await.unwrap();
    assert_eq!(written.data, CommandResult::Applied);

    // The old leader cannot confirm it leads, and a write there never succeeds.
    assert!(by_id(leader).raft.ensure_linearizable().await.is_err());
    let stale = by_id(leader).raft.clone();
    let attempt = tokio::spawn(async move { stale.client_write(txs("c")).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Healed, every replica holds the same committed commands, and the cut-off write is gone.
    faults.heal();
    for r in &replicas {
        wait_commands(r, &[txs("a"), txs("b")]).await;
    }
    let answer = tokio::time::timeout(WAIT, attempt).await;
    assert!(
        !matches!(answer, Ok(Ok(Ok(_)))),
        "a write on a cut-off leader succeeded: {answer:?}"
    );
}

#[tokio::test]
async fn the_replication_listener_refuses_a_request_without_the_secret() {
    let faults = Faults::default();
    let replica = start(1, &faults).await.unwrap();
    let url = format!("http://{}/raft/vote", replica.addr);
    let client = reqwest::Client::new();
    let body = serde_json::json!({"vote": {"leader_id": {"term": 1, "node_id": 2}, "committed": false}, "last_log_id": null});
    for auth in [None, Some("Bearer wrong")] {
        let mut req = client.post(&url).json(&body);
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let status = req.send().await.unwrap().status();
        assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "auth {auth:?}");
    }
    let status = client
        .post(&url)
        .bearer_auth(SECRET)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "with the secret: {status}");

    // A request the size of a few full blocks is read (this one then fails to parse), not
    // refused for its size as axum's 2 MB default would.
    let big = serde_json::json!({ "pad": "00".repeat(3 << 20) });
    let status = client
        .post(&url)
        .bearer_auth(SECRET)
        .json(&big)
        .send()
        .await
        .unwrap()
        .status();
    assert_ne!(status, reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    assert!(status.is_client_error(), "{status}");
}

/// What a follower asks a silent leader before it stands for election early.
#[tokio::test]
async fn a_replica_answers_whether_it_leads_only_to_its_group() {
    let faults = Faults::default();
    let replica = start(1, &faults).await.unwrap();
    let url = format!("http://{}/leads", replica.addr);
    let client = reqwest::Client::new();
    let ask = |from: NodeId| {
        client
            .post(&url)
            .bearer_auth(SECRET)
            .header("x-ordo-replica", from.to_string())
            .json(&())
            .send()
    };
    let status = client.post(&url).json(&()).send().await.unwrap().status();
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
    let leads = |answer: reqwest::Response| async move {
        assert!(answer.status().is_success(), "{}", answer.status());
        answer.json::<bool>().await.unwrap()
    };
    assert!(
        !leads(ask(2).await.unwrap()).await,
        "no group yet, so no leader"
    );

    form(std::slice::from_ref(&replica)).await;
    leader_among(&[&replica], None).await;
    assert!(leads(ask(2).await.unwrap()).await);

    // Across a cut link the answer never arrives, which the asker takes as a no.
    faults.isolate(1, &[1, 2]);
    let status = ask(2).await.unwrap().status();
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
}
