//! The Kubernetes path (issue 10): containerd 1.6's CRI plugin, with a runtime handler named
//! `cleave` (runtime_type io.containerd.runc.v2, options BinaryName = the runtime under test),
//! runs a pod sandbox and a container in it, driven through the CRI API as the kubelet drives
//! it: the `k8s-cri` crate's generated gRPC client over containerd's unix socket.
//!
//! The test builds its own pause image (a static C program that sleeps until SIGTERM/SIGINT
//! and reaps orphans, as Kubernetes' pause does) and a busybox image, imports both into
//! containerd's `k8s.io` namespace, and starts containerd with its own root, state, sockets
//! and configuration; containerd is stopped by its pid at the end (support/clients.rs).
//!
//! No CNI plugin is installed here, so the pod uses the host's network (NamespaceMode NODE,
//! what `hostNetwork: true` gives; containerd then also keeps the host's UTS namespace). The
//! pod's PID and IPC namespaces are its own (NamespaceMode POD), and the container joins
//! them: the test asserts that from inside the container.
//!
//! What the kubelet's CRI calls look like is mirrored from the CRI validation suite
//! (kubernetes-sigs/cri-tools, `pkg/validate`: "runtime should support PodPID" and the
//! container log checks), written here for one pod and one container.
//!
//! The runtime under test is `CLEAVE_CLIENT_RUNTIME` or this build's cleave, behind the
//! argv-logging wrapper of tests/clients.rs. Needs root, containerd (scripts/test.sh installs
//! it) and protoc at build time (protobuf-compiler, for k8s-cri's generated code).

#[path = "support/clients.rs"]
mod clients;

use clients::*;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerState, ContainerStatusRequest,
    CreateContainerRequest, ImageSpec, LinuxContainerConfig, LinuxContainerSecurityContext,
    LinuxPodSandboxConfig, LinuxSandboxSecurityContext, ListPodSandboxRequest, NamespaceMode,
    NamespaceOption, PodSandboxConfig, PodSandboxMetadata, PodSandboxStatusRequest,
    RemoveContainerRequest, RemovePodSandboxRequest, RunPodSandboxRequest, StartContainerRequest,
    StopPodSandboxRequest, VersionRequest,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tonic::transport::{Channel, Endpoint, Uri};

/// The runtime handler's name (what a RuntimeClass's `handler` names).
const HANDLER: &str = "cleave";
const PAUSE_IMAGE: &str = "cleave.test/pause:1";
const BUSYBOX_IMAGE: &str = "cleave.test/busybox:1";

/// The pause program: sleeps until SIGTERM or SIGINT (exit 0), reaping the orphans a pod's
/// PID namespace hands to its first process.
const PAUSE_C: &str = r#"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void done(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
    signal(SIGTERM, done);
    signal(SIGINT, done);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
"#;

/// What the container prints: the namespaces it is in, the command line of PID 1 of its PID
/// namespace (the pod's pause when it shares the pod's), a line on stderr, and exit code 3.
const PROBE: &str = "for n in pid ipc uts; do echo ns-$n=$(readlink /proc/self/ns/$n); done; \
     echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline); echo to-stderr >&2; exit 3";

/// The configuration containerd is started with: its own root, state and sockets, the CRI
/// plugin on with the `cleave` handler, the native snapshotter, a CNI directory of its own
/// (empty: host-network pods only), the streaming server on loopback at a free port, and
/// oom_score_adj kept no lower than containerd's own (`restrict_oom_score_adj`: root lacks
/// CAP_SYS_RESOURCE on this host, so the pod's -998 would be refused, by runc as by cleave).
fn containerd_config(s: &Scratch, runtime: &Path) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "{HANDLER}"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{HANDLER}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{HANDLER}.options]
        BinaryName = "{runtime}"
        Root = "{runc_root}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni}/bin"
    conf_dir = "{cni}/net.d"
"#,
        root = s.path("root").display(),
        state = s.path("state").display(),
        sock = s.path("c.sock").display(),
        opt = s.path("opt").display(),
        runtime = runtime.display(),
        runc_root = s.path("runc").display(),
        cni = s.path("cni").display(),
    )
}

/// The pause image's layer: one static binary, /pause, built from PAUSE_C.
fn pause_layer(s: &Scratch) -> PathBuf {
    let dir = s.mkdir("pause-root");
    std::fs::write(s.path("pause.c"), PAUSE_C).unwrap();
    let r = run(
        s,
        Command::new("gcc")
            .args(["-static", "-Os", "-o"])
            .arg(dir.join("pause"))
            .arg(s.path("pause.c")),
    );
    assert_eq!(
        r.code,
        Some(0),
        "gcc -static of the pause program failed (needs gcc and libc6-dev):\n{}",
        r.show()
    );
    let tar = s.path("pause.tar");
    let r = run(
        s,
        Command::new("tar")
            .arg("-C")
            .arg(&dir)
            .args(["--numeric-owner", "-cf"])
            .arg(&tar)
            .arg("."),
    );
    assert_eq!(r.code, Some(0), "tar of the pause layer: {}", r.show());
    tar
}

fn ctr(s: &Scratch) -> Command {
    let mut c = Command::new(tool("ctr"));
    c.arg("--address")
        .arg(s.path("c.sock"))
        .args(["--namespace", "k8s.io"]);
    c
}

/// A gRPC channel to containerd's socket (the URI is a placeholder tonic needs).
async fn connect(sock: PathBuf) -> Channel {
    Endpoint::try_from("http://[::]:50051")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let sock = sock.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(sock).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .expect("connect to containerd's CRI socket")
}

/// The namespace `ns` of process `pid`, as readlink shows it (`pid:[4026531836]`).
fn ns_of(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{ns}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The value of `key=` in the container's stdout, from its CRI log (lines of
/// `TIME STREAM TAG TEXT`).
fn logged(log: &str, stream: &str, key: &str) -> Option<String> {
    log.lines().find_map(|l| {
        let mut w = l.splitn(4, ' ');
        let (_time, s, _tag, text) = (w.next()?, w.next()?, w.next()?, w.next()?);
        (s == stream).then_some(())?;
        text.strip_prefix(key)?
            .strip_prefix('=')
            .map(|v| v.trim().to_owned())
    })
}

/// Whether process `pid` has ended (no such process, or a zombie not yet reaped).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => true,
    }
}

fn pod_config(s: &Scratch, namespaces: NamespaceOption) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: "cleave-pod".into(),
            uid: "cleave-pod-uid-1".into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        // No hostname: the kubelet leaves it empty for a host-network pod (the pod keeps the
        // host's UTS namespace, where a runtime must not set one; runc and cleave refuse).
        log_directory: s.mkdir("logs").to_string_lossy().into_owned(),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: s.cgroup_parent(),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(namespaces),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn cri_runs_a_pod_and_a_container_in_its_namespaces() {
    let _one = serial();
    let start = Instant::now();
    require_root();
    tool("containerd");
    tool("containerd-shim-runc-v2");
    let s = Scratch::new("cri");
    let wrapper = s.wrapper(HANDLER);
    s.mkdir("cni/bin");
    s.mkdir("cni/net.d");
    std::fs::write(s.path("config.toml"), containerd_config(&s, &wrapper)).unwrap();

    let mut c = Command::new(tool("containerd"));
    c.arg("--config").arg(s.path("config.toml"));
    let mut daemon = Daemon::spawn("containerd", &s, &mut c);
    daemon.wait_ready(|| run(&s, ctr(&s).arg("version")).code == Some(0));

    // The images, in the namespace the CRI plugin uses.
    let entry = serde_json::json!({"Entrypoint": ["/pause"]});
    let pause = oci_archive_of(&s, "pause", PAUSE_IMAGE, &pause_layer(&s), entry);
    let env = serde_json::json!({"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]});
    let busybox = oci_archive_of(&s, "busybox", BUSYBOX_IMAGE, rootfs_tar(), env);
    for archive in [&pause, &busybox] {
        run(&s, ctr(&s).args(["images", "import"]).arg(archive)).ok();
    }

    // Whatever the test leaves (it failed half-way): containers and pods removed through
    // CRI while containerd still answers, then the guard stops it and sweeps.
    let sock = s.path("c.sock");
    daemon.before_stop = Some(Box::new(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut cri = RuntimeServiceClient::new(connect(sock.clone()).await);
            let pods = cri
                .list_pod_sandbox(ListPodSandboxRequest { filter: None })
                .await
                .map(|r| r.into_inner().items)
                .unwrap_or_default();
            for p in pods {
                let id = p.id;
                let _ = cri
                    .stop_pod_sandbox(StopPodSandboxRequest {
                        pod_sandbox_id: id.clone(),
                    })
                    .await;
                let _ = cri
                    .remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id })
                    .await;
            }
        });
    }));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let log = rt.block_on(async {
        let mut cri = RuntimeServiceClient::new(connect(s.path("c.sock")).await);
        let v = cri
            .version(VersionRequest {
                version: "v1".into(),
            })
            .await
            .expect("CRI Version")
            .into_inner();
        assert_eq!(v.runtime_name, "containerd", "{v:?}");

        // The pod: the host's network (no CNI here), a PID and an IPC namespace of its own.
        let namespaces = NamespaceOption {
            network: NamespaceMode::Node as i32,
            pid: NamespaceMode::Pod as i32,
            ipc: NamespaceMode::Pod as i32,
            ..Default::default()
        };
        let pod = pod_config(&s, namespaces.clone());
        let pod_id = cri
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(pod.clone()),
                runtime_handler: HANDLER.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("RunPodSandbox: {e}"))
            .into_inner()
            .pod_sandbox_id;

        // The pause process, by the pid containerd reports for the pod.
        let status = cri
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: pod_id.clone(),
                verbose: true,
            })
            .await
            .expect("PodSandboxStatus")
            .into_inner();
        let info: serde_json::Value =
            serde_json::from_str(status.info.get("info").expect("verbose info")).unwrap();
        assert_eq!(info["runtimeHandler"], HANDLER, "{info}");
        let pause_pid = info["pid"].as_u64().expect("the pod's pid").to_string();
        let cmdline = std::fs::read(format!("/proc/{pause_pid}/cmdline")).unwrap();
        assert_eq!(
            cmdline, b"/pause\0",
            "the pod's process is not the pause image's"
        );

        // The container, in the pod's namespaces.
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: "probe".into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: BUSYBOX_IMAGE.into(),
                ..Default::default()
            }),
            command: vec!["sh".into(), "-c".into(), PROBE.into()],
            log_path: "probe.log".into(),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(namespaces),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = cri
            .create_container(CreateContainerRequest {
                pod_sandbox_id: pod_id.clone(),
                config: Some(config),
                sandbox_config: Some(pod),
            })
            .await
            .unwrap_or_else(|e| panic!("CreateContainer: {e}"))
            .into_inner()
            .container_id;
        cri.start_container(StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("StartContainer: {e}"));

        // Its exit code, as CRI reports it once it has exited.
        let mut exited = None;
        let deadline = Instant::now() + WAIT_DEADLINE;
        while exited.is_none() {
            let st = cri
                .container_status(ContainerStatusRequest {
                    container_id: id.clone(),
                    verbose: false,
                })
                .await
                .expect("ContainerStatus")
                .into_inner()
                .status
                .expect("a status");
            if st.state == ContainerState::ContainerExited as i32 {
                exited = Some(st);
            } else {
                assert!(
                    Instant::now() < deadline,
                    "the container did not exit: {st:?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        let st = exited.unwrap();
        assert_eq!(st.exit_code, 3, "the exit code must reach CRI: {st:?}");

        // Its output, as the CRI log containerd wrote (lines: time, stream, tag, text).
        let log = std::fs::read_to_string(s.path("logs/probe.log")).expect("the container's log");
        for ns in ["pid", "ipc", "uts"] {
            assert_eq!(
                logged(&log, "stdout", &format!("ns-{ns}")),
                Some(ns_of(&pause_pid, ns)),
                "the container is not in the pod's {ns} namespace:\n{log}"
            );
        }
        // The pod's PID and IPC namespaces are not the host's (this test's).
        let me = std::process::id().to_string();
        for ns in ["pid", "ipc"] {
            assert_ne!(
                ns_of(&pause_pid, ns),
                ns_of(&me, ns),
                "the pod has the host's {ns}"
            );
        }
        assert_eq!(
            logged(&log, "stdout", "pid1").as_deref(),
            Some("/pause"),
            "{log}"
        );
        assert!(
            log.lines()
                .any(|l| l.split(' ').nth(1) == Some("stderr") && l.ends_with(" to-stderr")),
            "stderr did not reach the CRI log:\n{log}"
        );

        cri.remove_container(RemoveContainerRequest {
            container_id: id.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("RemoveContainer: {e}"));
        cri.stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod_id.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("StopPodSandbox: {e}"));
        wait_until("the pause process to end after StopPodSandbox", || {
            gone(&pause_pid).then_some(())
        });
        cri.remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod_id,
        })
        .await
        .unwrap_or_else(|e| panic!("RemovePodSandbox: {e}"));
        let left = cri
            .list_pod_sandbox(ListPodSandboxRequest { filter: None })
            .await
            .expect("ListPodSandbox")
            .into_inner()
            .items;
        assert!(left.is_empty(), "pods left: {left:?}");
        log
    });
    eprintln!("--- the container's CRI log:\n{log}");

    // Every call reached the runtime under test, for the pod and for the container.
    let verbs = s.verbs();
    for want in ["create", "start", "kill", "delete"] {
        assert!(
            verbs.iter().any(|v| v == want),
            "the runtime was never called with `{want}`; it got: {verbs:?}"
        );
    }
    assert!(
        verbs.iter().filter(|v| *v == "create").count() >= 2,
        "the pod and the container must both be created by the runtime: {verbs:?}"
    );
    daemon.stop();
    eprintln!(
        "--- CRI pod + container: {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
