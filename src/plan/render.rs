//! The plan in words, for people (`roster plan`, `roster sync --check`).

use super::planner::Plan;

/// The plan in words, for people: counts, then each change.
pub fn render(plan: &Plan) -> String {
    let mut s = format!(
        "Plan for {} ({}), source {}: {} rows\n  create      {:>7}\n  update      {:>7}\n  deactivate  {:>7}\n  unchanged   {:>7}\n  skipped     {:>7}\n  rejected    {:>7}\n  failed      {:>7}\n",
        plan.server,
        plan.flavor,
        plan.source,
        plan.source_rows,
        plan.creates.len(),
        plan.updates.len(),
        plan.deactivations.len(),
        plan.unchanged,
        plan.skipped,
        plan.rejected,
        plan.failed,
    );
    let mut reasons: Vec<(&String, &u64)> = plan.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (k, v) in reasons.iter().take(20) {
        s.push_str(&format!("    {v:>9}  {k}\n"));
    }
    if reasons.len() > 20 {
        s.push_str(&format!("    ... and {} more kinds\n", reasons.len() - 20));
    }
    s.push_str(&format!(
        "  held inactive {:>5}\n  managed users on the server: {}\n",
        plan.held_inactive.len(),
        plan.managed
    ));
    if plan.membership_removals > 0 {
        s.push_str(&format!(
            "  team and channel memberships removed: {}\n",
            plan.membership_removals
        ));
    }
    if !plan.creates.is_empty() {
        s.push_str("\nCreates:\n");
        for i in &plan.creates {
            s.push_str(&format!(
                "  + {}  <{}>  ({})\n",
                i.username, i.email, i.origin
            ));
        }
    }
    if !plan.updates.is_empty() {
        s.push_str("\nUpdates:\n");
        for i in &plan.updates {
            match &i.renamed_from {
                Some(old) => s.push_str(&format!("  ~ {old} → {}  ({})\n", i.username, i.origin)),
                None => s.push_str(&format!("  ~ {}  ({})\n", i.username, i.origin)),
            }
            for c in &i.changes {
                match (c.field.as_str(), c.new.is_empty()) {
                    ("teams", false) => s.push_str(&format!("      + team: {}\n", c.new)),
                    ("teams", true) => s.push_str(&format!("      - team: {}\n", c.old)),
                    ("channels", false) => s.push_str(&format!("      + channel: {}\n", c.new)),
                    ("channels", true) => s.push_str(&format!("      - channel: {}\n", c.old)),
                    _ => s.push_str(&format!("      {}: {:?} → {:?}\n", c.field, c.old, c.new)),
                }
            }
        }
    }
    if !plan.deactivations.is_empty() {
        s.push_str("\nDeactivations:\n");
        for i in &plan.deactivations {
            s.push_str(&format!(
                "  - {}  <{}>  ({})\n",
                i.username,
                i.email,
                i.reason.as_deref().unwrap_or("")
            ));
            for c in &i.changes {
                let noun = if c.field == "teams" {
                    "team"
                } else {
                    "channel"
                };
                s.push_str(&format!("      - {noun}: {}\n", c.old));
            }
        }
    }
    if !plan.held_inactive.is_empty() {
        s.push_str("\nHeld inactive (deactivated on the server, active in the source; --reactivate to change):\n");
        for i in &plan.held_inactive {
            s.push_str(&format!("  ! {}  ({})\n", i.username, i.origin));
        }
    }
    if let Some(r) = &plan.refused {
        s.push_str(&format!("\nREFUSED: {r}\n"));
    }
    if let Some(r) = &plan.deactivations_refused {
        s.push_str(&format!("\nDEACTIVATIONS REFUSED: {r}\n"));
    }
    s
}
