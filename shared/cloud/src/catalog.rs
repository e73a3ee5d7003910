use std::collections::HashMap;
use std::sync::OnceLock;

const INSTANCE_TYPES_CSV: &str = include_str!("../data/instance-types.csv");
const ON_DEMAND_CSV: &str = include_str!("../data/on-demand-prices.csv");
const ADVISOR_CSV: &str = include_str!("../data/spot-advisor-linux.csv");
/// The region the shipped on-demand prices are for; other regions reuse them as an estimate.
pub const PRICED_REGION: &str = "us-east-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Architecture {
    Amd64,
    Arm64,
}

/// Kubernetes resource amounts: what a node can give to pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    pub cpu_millis: i64,
    pub memory_mib: i64,
    pub pods: i64,
    pub gpus: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceType {
    pub name: String,
    pub family: String,
    pub category: String,
    pub generation: u32,
    pub size: String,
    pub architecture: Architecture,
    pub vcpu: u32,
    pub memory_mib: i64,
    pub gpu_count: u32,
    pub gpu_name: String,
    pub bare_metal: bool,
    /// What the kubelet offers pods on an AL2023 node, overhead already subtracted.
    pub allocatable: Resources,
    /// On-demand Linux USD/hour in [`PRICED_REGION`], when AWS lists one.
    pub on_demand_usd_per_hour: Option<f64>,
}

/// The spot advisor's figures for one type in one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advice {
    /// Average spot savings versus on-demand, in percent; negative where spot costs more.
    pub savings_percent: i16,
    /// Interruption frequency bucket: 0 (<5%/month) .. 4 (>20%/month).
    pub interruption_bucket: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("instance type `{0}` is not in the catalog")]
    UnknownType(String),
    #[error("region `{0}` is not a known AWS region")]
    UnknownRegion(String),
}

/// Filters for listing types; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct TypeFilter {
    pub families: Vec<String>,
    pub categories: Vec<String>,
    pub architecture: Option<Architecture>,
    pub min_cpu_millis: i64,
    pub min_memory_mib: i64,
    pub gpu_only: bool,
    /// Only types the advisor lists for this region (i.e. offered there as spot).
    pub region: Option<String>,
}

/// Every EC2 instance type with its prices and spot advice. Loaded once, read-only after.
#[derive(Debug)]
pub struct Catalog {
    types: Vec<InstanceType>,
    by_name: HashMap<String, usize>,
    regions: Vec<String>,
    /// (region index, type index) -> advice.
    advice: HashMap<(u16, u32), Advice>,
}

impl Catalog {
    /// The catalog embedded in the binary, parsed on first use.
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::parse(INSTANCE_TYPES_CSV, ON_DEMAND_CSV, ADVISOR_CSV)
                .unwrap_or_else(|e| panic!("the embedded catalog is malformed: {e}"))
        })
    }

    /// Parses the three CSV files (the formats in `data/README.md`).
    pub fn parse(types_csv: &str, prices_csv: &str, advisor_csv: &str) -> Result<Catalog, String> {
        let mut prices = HashMap::new();
        for (line, row) in rows(prices_csv) {
            let [region, name, price] = fields::<3>(&row, line)?;
            if region == PRICED_REGION {
                prices.insert(name.to_owned(), number::<f64>(price, line)?);
            }
        }
        let mut types = Vec::new();
        for (line, row) in rows(types_csv) {
            let f = fields::<17>(&row, line)?;
            types.push(InstanceType {
                name: f[0].to_owned(),
                family: f[1].to_owned(),
                category: f[2].to_owned(),
                generation: number(f[3], line)?,
                size: f[4].to_owned(),
                architecture: match f[5] {
                    "arm64" => Architecture::Arm64,
                    "amd64" => Architecture::Amd64,
                    other => return Err(format!("line {line}: unknown arch `{other}`")),
                },
                vcpu: number(f[6], line)?,
                memory_mib: number(f[7], line)?,
                gpu_count: number(f[8], line)?,
                gpu_name: f[9].to_owned(),
                bare_metal: f[13] == "true",
                allocatable: Resources {
                    cpu_millis: number(f[14], line)?,
                    memory_mib: number(f[15], line)?,
                    pods: number(f[16], line)?,
                    gpus: number(f[8], line)?,
                },
                on_demand_usd_per_hour: prices.get(f[0]).copied(),
            });
        }
        types.sort_by(|a, b| a.name.cmp(&b.name));
        let by_name = types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect::<HashMap<_, _>>();
        let regions: Vec<String> = rows(advisor_csv)
            .filter_map(|(_, row)| row.first().map(|r| r.to_string()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut advice = HashMap::new();
        for (line, row) in rows(advisor_csv) {
            let [region, name, savings, bucket] = fields::<4>(&row, line)?;
            let Some(&type_index) = by_name.get(name) else {
                continue; // the advisor knows a few types the catalog does not; they cannot be planned
            };
            let region_index = regions
                .binary_search_by(|r| r.as_str().cmp(region))
                .map_err(|_| format!("line {line}: region `{region}`"))?;
            advice.insert(
                (region_index as u16, type_index as u32),
                Advice {
                    savings_percent: number(savings, line)?,
                    interruption_bucket: number(bucket, line)?,
                },
            );
        }
        Ok(Catalog {
            types,
            by_name,
            regions,
            advice,
        })
    }

    pub fn types(&self) -> &[InstanceType] {
        &self.types
    }

    pub fn get(&self, name: &str) -> Result<&InstanceType, CatalogError> {
        self.by_name
            .get(name)
            .map(|&i| &self.types[i])
            .ok_or_else(|| CatalogError::UnknownType(name.to_owned()))
    }

    /// Regions the advisor covers, sorted.
    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    pub fn check_region(&self, region: &str) -> Result<(), CatalogError> {
        if self.regions.iter().any(|r| r == region) {
            Ok(())
        } else {
            Err(CatalogError::UnknownRegion(region.to_owned()))
        }
    }

    /// The advisor's savings and bucket for a type in a region; none when it is not sold as spot there.
    pub fn advice(&self, region: &str, name: &str) -> Result<Option<Advice>, CatalogError> {
        self.check_region(region)?;
        let type_index = *self
            .by_name
            .get(name)
            .ok_or_else(|| CatalogError::UnknownType(name.to_owned()))?;
        let region_index = self
            .regions
            .iter()
            .position(|r| r == region)
            .unwrap_or_default();
        Ok(self
            .advice
            .get(&(region_index as u16, type_index as u32))
            .copied())
    }

    /// On-demand USD/hour; outside us-east-1 this is the us-east-1 price (an estimate).
    pub fn on_demand_price(&self, name: &str) -> Result<Option<f64>, CatalogError> {
        Ok(self.get(name)?.on_demand_usd_per_hour)
    }

    /// The advisor's estimate of the spot price: on-demand x (1 - savings).
    pub fn estimated_spot_price(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<f64>, CatalogError> {
        let on_demand = self.on_demand_price(name)?;
        let advice = self.advice(region, name)?;
        Ok(match (on_demand, advice) {
            (Some(price), Some(advice)) => {
                Some(price * (1.0 - f64::from(advice.savings_percent) / 100.0))
            }
            _ => None,
        })
    }

    pub fn filter(&self, filter: &TypeFilter) -> Result<Vec<&InstanceType>, CatalogError> {
        let region_index = match &filter.region {
            Some(region) => {
                self.check_region(region)?;
                self.regions.iter().position(|r| r == region)
            }
            None => None,
        };
        Ok(self
            .types
            .iter()
            .enumerate()
            .filter(|(i, t)| {
                (filter.families.is_empty() || filter.families.contains(&t.family))
                    && (filter.categories.is_empty() || filter.categories.contains(&t.category))
                    && filter.architecture.is_none_or(|a| a == t.architecture)
                    && t.allocatable.cpu_millis >= filter.min_cpu_millis
                    && t.allocatable.memory_mib >= filter.min_memory_mib
                    && (!filter.gpu_only || t.gpu_count > 0)
                    && region_index.is_none_or(|r| self.advice.contains_key(&(r as u16, *i as u32)))
            })
            .map(|(_, t)| t)
            .collect())
    }
}

fn rows(csv: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    csv.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| (i + 1, line.split(',').collect()))
}

fn fields<'a, const N: usize>(row: &[&'a str], line: usize) -> Result<[&'a str; N], String> {
    row.get(..N)
        .and_then(|slice| <[&str; N]>::try_from(slice).ok())
        .ok_or_else(|| format!("line {line}: expected {N} fields, found {}", row.len()))
}

fn number<T: std::str::FromStr>(text: &str, line: usize) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("line {line}: `{text}` is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_holds_every_type_with_prices_and_advice() {
        let catalog = Catalog::embedded();
        assert_eq!(catalog.types().len(), 1363);
        let m5 = catalog.get("m5.large").unwrap();
        assert_eq!(
            (m5.vcpu, m5.memory_mib, m5.architecture),
            (2, 8192, Architecture::Amd64)
        );
        assert_eq!(m5.allocatable.pods, 29);
        assert!(m5.allocatable.cpu_millis < 2000, "overhead is subtracted");
        assert_eq!(m5.on_demand_usd_per_hour, Some(0.096));
        let advice = catalog.advice("us-east-1", "m5.large").unwrap().unwrap();
        assert!(advice.interruption_bucket <= 4);
        let spot = catalog
            .estimated_spot_price("us-east-1", "m5.large")
            .unwrap()
            .unwrap();
        assert!(spot < 0.096 && spot > 0.0, "{spot}");
        assert_eq!(catalog.regions().len(), 33);
    }

    #[test]
    fn unknown_types_and_regions_are_named_in_errors() {
        let catalog = Catalog::embedded();
        assert_eq!(
            catalog.get("m5.huge").unwrap_err().to_string(),
            "instance type `m5.huge` is not in the catalog"
        );
        assert_eq!(
            catalog
                .advice("mars-north-1", "m5.large")
                .unwrap_err()
                .to_string(),
            "region `mars-north-1` is not a known AWS region"
        );
    }

    #[test]
    fn filters_combine() {
        let catalog = Catalog::embedded();
        let filter = TypeFilter {
            families: vec!["m6g".into(), "m5".into()],
            architecture: Some(Architecture::Arm64),
            min_cpu_millis: 3000,
            region: Some("us-east-1".into()),
            ..Default::default()
        };
        let types = catalog.filter(&filter).unwrap();
        assert!(!types.is_empty());
        assert!(
            types
                .iter()
                .all(|t| t.family == "m6g" && t.allocatable.cpu_millis >= 3000)
        );
        let gpus = catalog
            .filter(&TypeFilter {
                gpu_only: true,
                ..Default::default()
            })
            .unwrap();
        assert!(gpus.iter().all(|t| t.gpu_count > 0) && !gpus.is_empty());
    }
}
