//! CSV of stock items (`dsco-lingxing stock export --since …`).

use std::io::{self, Write};

use store::{StockItem, WarehouseQty};

const HEADER: [&str; 12] = [
    "at",
    "run_id",
    "dsco_sku",
    "lingxing_sku",
    "read",
    "warehouses",
    "quantity_available",
    "previous_quantity",
    "sent",
    "request_id",
    "outcome",
    "message",
];

/// Writes the items as CSV (RFC 4180 quoting), header first. Warehouses read as `code=qty`
/// joined by `;`.
pub fn write_stock_csv(items: &[StockItem], out: &mut impl Write) -> io::Result<()> {
    write_stock_header(out)?;
    write_stock_rows(items, out)
}

/// The CSV's header line alone (an export written a page at a time starts with it).
pub fn write_stock_header(out: &mut impl Write) -> io::Result<()> {
    line(out, HEADER.iter().map(|s| s.to_string()))
}

/// The items' lines alone, as [`write_stock_csv`] writes them after the header.
pub fn write_stock_rows(items: &[StockItem], out: &mut impl Write) -> io::Result<()> {
    for i in items {
        line(
            out,
            [
                i.at.to_rfc3339(),
                i.run_id.clone(),
                i.dsco_sku.clone(),
                i.lingxing_sku.clone(),
                wh(&i.read),
                wh(&i.warehouses),
                i.qty.to_string(),
                i.previous_qty.map(|q| q.to_string()).unwrap_or_default(),
                i.sent.to_string(),
                i.request_id.clone().unwrap_or_default(),
                i.outcome.as_str().to_owned(),
                i.message.clone(),
            ]
            .into_iter(),
        )?;
    }
    Ok(())
}

fn wh(w: &WarehouseQty) -> String {
    w.iter()
        .map(|(c, q)| format!("{c}={q}"))
        .collect::<Vec<_>>()
        .join(";")
}

fn line(out: &mut impl Write, fields: impl Iterator<Item = String>) -> io::Result<()> {
    let cells: Vec<String> = fields.map(|f| quote(&f)).collect();
    writeln!(out, "{}", cells.join(","))
}

fn quote(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_and_quotes_are_quoted() {
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("plain"), "plain");
    }
}
