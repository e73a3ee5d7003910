//! The user data a new node boots with: the image family's bootstrap, which joins the node to the
//! cluster, with the user's own part merged in.
//!
//! - AL2023: a MIME multipart document whose first part is nodeadm's `NodeConfig` (cluster name,
//!   API endpoint, CA, service CIDR); the user's part follows (a shell script, `#cloud-config`,
//!   or a `NodeConfig` of their own, which nodeadm merges over ours).
//! - Bottlerocket: one TOML document of settings; the user's settings are merged in, except the
//!   ones that join the cluster.

use crate::node_class::{AmiFamily, KubeCluster};

const BOUNDARY: &str = "//spot-optimizer//";

/// Bottlerocket settings that join the node to its cluster: the platform writes them.
const BOTTLEROCKET_JOIN_KEYS: [&str; 4] = [
    "cluster-name",
    "api-server",
    "cluster-certificate",
    "cluster-dns-ip",
];

/// Whether the user's part can be merged into the family's user data; why not.
pub fn check_user_part(family: AmiFamily, user: &str) -> Result<(), String> {
    if user.len() > 12 * 1024 {
        return Err("at most 12 KiB (EC2 allows 16 KiB with the bootstrap)".to_owned());
    }
    if user.trim().is_empty() {
        return Ok(());
    }
    match family {
        AmiFamily::Al2023 => al2023_part_type(user).map(|_| ()),
        AmiFamily::Bottlerocket => {
            let table: toml::Table = user
                .parse()
                .map_err(|e| format!("Bottlerocket user data is TOML settings: {e}"))?;
            let kubernetes = table
                .get("settings")
                .and_then(|s| s.get("kubernetes"))
                .and_then(toml::Value::as_table);
            if let Some(key) = kubernetes.and_then(|k| {
                BOTTLEROCKET_JOIN_KEYS
                    .iter()
                    .find(|key| k.contains_key(**key))
            }) {
                return Err(format!(
                    "`settings.kubernetes.{key}` is set by the platform from the cluster"
                ));
            }
            Ok(())
        }
    }
}

/// The MIME type of an AL2023 user part.
fn al2023_part_type(user: &str) -> Result<&'static str, String> {
    let start = user.trim_start();
    if start.starts_with("#!") {
        Ok("text/x-shellscript")
    } else if start.starts_with("#cloud-config") {
        Ok("text/cloud-config")
    } else if start.contains("kind: NodeConfig") {
        Ok("application/node.eks.aws")
    } else if start.starts_with("MIME-Version") {
        Err("give the part itself (a shell script, #cloud-config or a NodeConfig): the platform writes the MIME document".to_owned())
    } else {
        Err(
            "AL2023 user data is a shell script (#!...), #cloud-config, or a nodeadm NodeConfig"
                .to_owned(),
        )
    }
}

/// The cluster DNS address kubelet uses: the tenth address of the service range, as EKS sets it.
pub fn cluster_dns_ip(service_cidr: &str) -> Option<String> {
    let network = service_cidr.split('/').next()?;
    let mut octets: Vec<u8> = network
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    if octets.len() != 4 {
        return None;
    }
    octets[3] = octets[3].checked_add(10)?;
    Some(
        octets
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// The user data for a node of `cluster`: the family's bootstrap, then the user's part.
/// `user` must have passed [`check_user_part`].
pub fn compose(family: AmiFamily, cluster: &KubeCluster, user: &str) -> Result<String, String> {
    check_user_part(family, user)?;
    match family {
        AmiFamily::Al2023 => {
            let node_config = format!(
                "---\napiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: {}\n    apiServerEndpoint: {}\n    certificateAuthority: {}\n    cidr: {}\n",
                cluster.name, cluster.endpoint, cluster.certificate_authority, cluster.service_cidr
            );
            let mut document = format!(
                "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\n\n--{BOUNDARY}\nContent-Type: application/node.eks.aws\n\n{node_config}"
            );
            if !user.trim().is_empty() {
                let part_type = al2023_part_type(user)?;
                document.push_str(&format!(
                    "\n--{BOUNDARY}\nContent-Type: {part_type}\n\n{}\n",
                    user.trim_end()
                ));
            }
            document.push_str(&format!("\n--{BOUNDARY}--\n"));
            Ok(document)
        }
        AmiFamily::Bottlerocket => {
            let mut settings: toml::Table = if user.trim().is_empty() {
                toml::Table::new()
            } else {
                user.parse().map_err(|e| format!("{e}"))?
            };
            let kubernetes = settings
                .entry("settings")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or("`settings` must be a table")?
                .entry("kubernetes")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or("`settings.kubernetes` must be a table")?;
            kubernetes.insert("cluster-name".into(), cluster.name.clone().into());
            kubernetes.insert("api-server".into(), cluster.endpoint.clone().into());
            kubernetes.insert(
                "cluster-certificate".into(),
                cluster.certificate_authority.clone().into(),
            );
            if let Some(dns) = cluster_dns_ip(&cluster.service_cidr) {
                kubernetes.insert("cluster-dns-ip".into(), dns.into());
            }
            toml::to_string(&settings).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> KubeCluster {
        KubeCluster {
            name: "shop".into(),
            endpoint: "https://ABC.gr7.us-east-1.eks.amazonaws.com".into(),
            certificate_authority: "Q0E=".into(),
            service_cidr: "172.20.0.0/16".into(),
            kubernetes_version: "1.31".into(),
            vpc_id: "vpc-1".into(),
        }
    }

    #[test]
    fn al2023_joins_with_nodeadm_and_keeps_the_users_script() {
        let data = compose(AmiFamily::Al2023, &cluster(), "#!/bin/bash\necho hello").unwrap();
        assert!(data.starts_with("MIME-Version: 1.0\n"));
        assert!(data.contains("kind: NodeConfig"));
        assert!(data.contains("apiServerEndpoint: https://ABC.gr7.us-east-1.eks.amazonaws.com"));
        assert!(data.contains("certificateAuthority: Q0E="));
        assert!(data.contains("cidr: 172.20.0.0/16"));
        let script = data.find("Content-Type: text/x-shellscript").unwrap();
        assert!(script > data.find("kind: NodeConfig").unwrap());
        assert!(data.contains("echo hello"));
        assert!(data.trim_end().ends_with("--//spot-optimizer//--"));
    }

    #[test]
    fn bottlerocket_merges_the_users_settings() {
        let user = "[settings.kubernetes]\nmax-pods = 58\n[settings.host-containers.admin]\nenabled = true\n";
        let data = compose(AmiFamily::Bottlerocket, &cluster(), user).unwrap();
        let parsed: toml::Table = data.parse().unwrap();
        let kubernetes = &parsed["settings"]["kubernetes"];
        assert_eq!(kubernetes["cluster-name"].as_str(), Some("shop"));
        assert_eq!(kubernetes["cluster-dns-ip"].as_str(), Some("172.20.0.10"));
        assert_eq!(kubernetes["max-pods"].as_integer(), Some(58));
        assert_eq!(
            parsed["settings"]["host-containers"]["admin"]["enabled"].as_bool(),
            Some(true)
        );
    }

    #[test]
    fn settings_the_platform_writes_are_refused() {
        let reason = check_user_part(
            AmiFamily::Bottlerocket,
            "[settings.kubernetes]\napi-server = \"https://elsewhere\"",
        )
        .unwrap_err();
        assert!(
            reason.contains("settings.kubernetes.api-server"),
            "{reason}"
        );
        assert!(check_user_part(AmiFamily::Bottlerocket, "not = [toml").is_err());
        assert!(check_user_part(AmiFamily::Al2023, "MIME-Version: 1.0\n").is_err());
    }
}
