using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Flannel.TrafficRules.Tests")]
