/**
 * Where the handlers' metrics land. The functions get these as `POWERTOOLS_SERVICE_NAME` and
 * `POWERTOOLS_METRICS_NAMESPACE`; Powertools writes EMF with the single dimension `service`, so the dashboard
 * and alarms address the same series.
 */
import { Duration } from 'aws-cdk-lib';
import { Metric, type MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import type { MetricName, TimingName } from '#src/domain/ports.js';

export const serviceName = 'grip-channel-server';
export const metricsNamespace = 'GripChannelServer';

/** One of the handlers' EMF metrics: counts default to `Sum`, timings (milliseconds) should pass a percentile. */
export function appMetric(name: MetricName | TimingName, options: MetricOptions = {}): Metric {
  return new Metric({
    namespace: metricsNamespace,
    metricName: name,
    dimensionsMap: { service: serviceName },
    statistic: 'Sum',
    period: Duration.minutes(1),
    ...options,
  });
}
