"""Demand forecasting: each item's future sales from its sales history (the seed's inventory job).

- `series`: a shop's sales (a transaction export or a long `item_id,timestamp,quantity` table)
  -> a demand panel per item per period, with the period and the calendar inferred;
- `model`: the global Transformer forecaster and its tokens (docs/model-format.md, "Forecaster");
- `metrics`: MAE, RMSE, WAPE, RMSSE, scaled pinball loss and interval coverage;
- `baselines`: naive, seasonal naive, moving averages, statsforecast and a LightGBM global model;
- `train`: training, early stopping on validation origins, the refit;
- `protocol`: the rolling-origin evaluation (`python -m fuserank.forecast.protocol`);
- `bundle`: the forecaster files of a model bundle; `fixtures`: the golden fixture.
"""
